"""Liveness and readiness probes for load balancers and orchestrators.

`/livez` says the process answers (restart it if not); `/readyz` says it can serve requests,
that is, its database answers (send it no traffic if not; do not restart it).
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from web.node import node_of

log = logging.getLogger("flurfunk.health")
DATABASE_TIMEOUT = 3.0  # seconds; probes time out after a few seconds themselves


async def livez(request: Request) -> Response:
    return PlainTextResponse("OK")


async def readyz(request: Request) -> Response:
    """Ready when the database answers."""
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT), node_of(request).db.read() as session:
            await session.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        log.warning("not ready: the database did not answer: %s", exc)
        return PlainTextResponse("database unavailable", status_code=503)
    return PlainTextResponse("OK")


routes = [Route("/livez", livez), Route("/readyz", readyz)]
