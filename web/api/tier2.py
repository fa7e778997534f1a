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
from web.api.errors import not_found, validation

Endpoint = Callable[[Request], Awaitable[Response]]
POLICY_VALUES = ("accept", "filter", "drop")
POLICY_KEYS = (
    "for_not_following",
    "for_not_followers",
    "for_new_accounts",
    "for_private_mentions",
    "for_limited_accounts",
)


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


def unsupported(scope: str, what: str) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        await call(request, scope)
        raise validation(f"{what} are not supported on this node")

    return endpoint


def policy_summary() -> dict[str, int]:
    return {"pending_requests_count": 0, "pending_notifications_count": 0}


async def notification_policy(request: Request) -> Response:
    """Every notification is accepted: the node filters none, so that is the true policy."""
    scope = "read:notifications" if request.method == "GET" else "write:notifications"
    c = await call(request, scope)
    for key in POLICY_KEYS:
        value = c.params.text(key)
        if value is not None and value not in POLICY_VALUES:
            raise validation(f"{key} must be one of {', '.join(POLICY_VALUES)}")
    if request.url.path.startswith("/api/v2/"):
        return ok({**{key: "accept" for key in POLICY_KEYS}, "summary": policy_summary()})
    return ok(
        {
            "filter_not_following": False,
            "filter_not_followers": False,
            "filter_new_accounts": False,
            "filter_private_mentions": False,
            "summary": policy_summary(),
        }
    )


def _routes() -> list[BaseRoute]:
    empty_list = [
        ("/api/v1/announcements", "read"),
        ("/api/v1/suggestions", "read:accounts"),
        ("/api/v2/suggestions", "read:accounts"),
        ("/api/v1/notifications/requests", "read:notifications"),
        ("/api/v1/domain_blocks", "read:blocks"),
    ]
    public_lists = [
        "/api/v1/custom_emojis",
        "/api/v1/trends",
        "/api/v1/trends/tags",
        "/api/v1/trends/statuses",
        "/api/v1/trends/links",
    ]
    records = [
        ("/api/v1/announcements/{id}/dismiss", ["POST"], "write:accounts"),
        ("/api/v1/announcements/{id}/reactions/{name}", ["PUT", "DELETE"], "write:favourites"),
        ("/api/v1/notifications/requests/{id}", ["GET"], "read:notifications"),
        ("/api/v1/notifications/requests/{id}/accept", ["POST"], "write:notifications"),
        ("/api/v1/notifications/requests/{id}/dismiss", ["POST"], "write:notifications"),
    ]
    out: list[BaseRoute] = [
        Route(path, answer(scope, []), methods=["GET"]) for path, scope in empty_list
    ]
    out += [Route(path, answer(None, []), methods=["GET"]) for path in public_lists]
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
        Route("/api/v1/notifications/policy", notification_policy, methods=["GET", "PATCH", "PUT"]),
        Route("/api/v2/notifications/policy", notification_policy, methods=["GET", "PATCH", "PUT"]),
        Route("/api/v1/suggestions/{id}", answer("write:accounts", {}), methods=["DELETE"]),
        Route("/api/v1/domain_blocks", answer("write:blocks", {}), methods=["POST", "DELETE"]),
    ]
    out += [Route(path, missing(scope), methods=methods) for path, methods, scope in records]
    return out


routes: list[BaseRoute] = _routes()
