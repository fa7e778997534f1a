"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from web.node import node_of


async def livez(request: Request) -> Response:
    return PlainTextResponse("OK")


async def readyz(request: Request) -> Response:
    """Ready when the database answers."""
    try:
        async with node_of(request).db.read() as session:
            await session.execute(text("SELECT 1"))
    except OSError:
        return PlainTextResponse("database unavailable", status_code=503)
    return PlainTextResponse("OK")


routes = [Route("/livez", livez), Route("/readyz", readyz)]
