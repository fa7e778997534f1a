"""Endpoints that apps call right after login, for features this node does not offer (yet).

Each answers what Mastodon answers for a user who has none of the thing: an empty list, an
empty object, or a 404 for an id that cannot exist. Writes that would create something the
node cannot keep are refused with a 422 rather than silently dropped.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from web.api.base import call, ok
from web.api.errors import not_found

Endpoint = Callable[[Request], Awaitable[Response]]


def answer(scope: str | None, data: Any, *, user: bool = True) -> Endpoint:
    """An endpoint that authenticates as Mastodon would, then answers `data`."""

    async def endpoint(request: Request) -> Response:
        await call(request, scope, user=user, optional=scope is None)
        return ok(data)

    return endpoint


def missing(scope: str) -> Endpoint:
    """An endpoint about one record of a kind this node never has: 404 once authenticated."""

    async def endpoint(request: Request) -> Response:
        await call(request, scope)
        raise not_found()

    return endpoint


def _routes() -> list[BaseRoute]:
    empty_list = [
        ("/api/v1/notifications/requests", "read:notifications"),
    ]
    records = [
        ("/api/v1/notifications/requests/{id}", ["GET"], "read:notifications"),
        ("/api/v1/notifications/requests/{id}/accept", ["POST"], "write:notifications"),
        ("/api/v1/notifications/requests/{id}/dismiss", ["POST"], "write:notifications"),
    ]
    out: list[BaseRoute] = [
        Route(path, answer(scope, []), methods=["GET"]) for path, scope in empty_list
    ]
    # Fixed paths first, so that `requests/merged` is not taken for a request id.
    out += [
        Route(
            "/api/v1/notifications/requests/merged",
            answer("read:notifications", {"merged": True}),
            methods=["GET"],
        ),
        Route(
            "/api/v1/notifications/requests/accept",
            answer("write:notifications", {}),
            methods=["POST"],
        ),
        Route(
            "/api/v1/notifications/requests/dismiss",
            answer("write:notifications", {}),
            methods=["POST"],
        ),
    ]
    out += [Route(path, missing(scope), methods=methods) for path, methods, scope in records]
    return out


routes: list[BaseRoute] = _routes()
