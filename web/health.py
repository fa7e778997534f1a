"""Liveness and readiness probes for load balancers and orchestrators.

`/livez` says the process answers (restart it if not); `/readyz` says it can serve requests,
that is, its database answers (send it no traffic if not; do not restart it).

Redis is not a condition of readiness: without it a web process still reads and writes
everything (background work waits in the database for the workers' sweeps), only streaming
events from other processes and prompt hand-over of work pause. Taking every web process out
of the load balancer for that would turn a degraded node into a dead one, so `/readyz` stays
200 and says "degraded" in its body, and the log says why.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from web.node import node_of

log = logging.getLogger("flurfunk.health")
DATABASE_TIMEOUT = 3.0  # seconds; probes time out after a few seconds themselves
REDIS_TIMEOUT = 1.0
_redis_clients: dict[str, Any] = {}  # one connection pool per Redis URL, made on first probe


async def livez(request: Request) -> Response:
    return PlainTextResponse("OK")


async def readyz(request: Request) -> Response:
    """Ready when the database answers; degraded (still ready) when Redis does not."""
    node = node_of(request)
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT), node.db.read() as session:
            await session.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        log.warning("not ready: the database did not answer: %s", exc)
        return PlainTextResponse("database unavailable", status_code=503)
    if node.settings.redis_url and not await _redis_answers(node.settings.redis_url):
        return PlainTextResponse("OK, degraded: Redis unavailable")
    return PlainTextResponse("OK")


async def _redis_answers(url: str) -> bool:
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    client = _redis_clients.get(url)
    if client is None:
        client = _redis_clients[url] = Redis.from_url(
            url, socket_connect_timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT
        )
    try:
        async with asyncio.timeout(REDIS_TIMEOUT * 2):
            await client.ping()
    except (RedisError, OSError, TimeoutError) as exc:
        log.warning("degraded: Redis did not answer: %s", exc)
        return False
    return True


routes = [Route("/livez", livez), Route("/readyz", readyz)]
