"""Endpoints that apps call but that this node does not offer, answered honestly.

Each answers as a Mastodon server without the feature would: a read of something the node
never keeps finds nothing (404, or an empty list where a list of things that do not exist here
is the truth), a write is refused with 422 and the reason, never a success that stores
nothing. Most belong to Mastodon API levels above the one this node reports (quotes and
interaction policies: 7; collections, the profile API: 8; async refreshes), which apps only
use once the server reports that level.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from web.api.accounts import account_or_404
from web.api.base import call, ok
from web.api.errors import not_found, validation
from web.api.params import parse_id
from web.api.statuses import readable_status


async def translate(request: Request) -> Response:
    """Mastodon answers 404 when no translation service is configured; so does this node,
    which has none (`configuration.translation.enabled` is false)."""
    c = await call(request, "read:statuses")
    async with c.node.db.read() as session:
        await readable_status(c, session, parse_id(request.path_params["id"]))
    raise not_found()


async def email_confirmation(request: Request) -> Response:
    await call(request, "write:accounts")
    raise validation("this node sends no confirmation mails; e-mail addresses are set by staff")


async def profile(request: Request) -> Response:
    """The profile API (API level 8); `update_credentials` does what it would."""
    await call(request, "read:accounts" if request.method == "GET" else "write:accounts")
    if request.method == "GET":
        raise not_found()
    raise validation("use PATCH /api/v1/accounts/update_credentials to change the profile")


async def account_collections(request: Request) -> Response:
    c = await call(request, "read:accounts", optional=True)
    async with c.node.db.read() as session:
        await account_or_404(session, request.path_params["id"])
    return ok([])  # nobody has collections here


async def status_quotes(request: Request) -> Response:
    """No post on this node quotes another, so a post's quotes are none."""
    c = await call(request, "read:statuses", optional=True)
    async with c.node.db.read() as session:
        await readable_status(c, session, parse_id(request.path_params["id"]))
    return ok([])


async def interaction_policy(request: Request) -> Response:
    c = await call(request, "write:statuses")
    async with c.node.db.read() as session:
        status = await readable_status(c, session, parse_id(request.path_params["id"]))
    if status.account_id != c.account.id:
        raise not_found()
    raise validation("quote posts are not supported on this node, so there is no policy to set")


async def nothing_kept(request: Request) -> Response:
    """A record of a kind this node never creates (a collection, a quote to revoke, an
    asynchronous refresh)."""
    await call(request, optional=True)
    raise not_found()


routes: list[BaseRoute] = [
    Route("/api/v1/statuses/{id}/translate", translate, methods=["POST"]),
    Route("/api/v1/emails/confirmations", email_confirmation, methods=["POST"]),
    Route("/api/v1/profile", profile, methods=["GET", "PUT", "PATCH"]),
    Route("/api/v1/accounts/{id}/collections", account_collections, methods=["GET"]),
    Route("/api/v1/statuses/{id}/quotes", status_quotes, methods=["GET"]),
    Route("/api/v1/statuses/{id}/interaction_policy", interaction_policy, methods=["PUT"]),
    Route("/api/v1/collections/{id}", nothing_kept, methods=["GET"]),
    Route("/api/v1/statuses/{id}/quotes/{quote_id}/revoke", nothing_kept, methods=["POST"]),
    Route("/api/v1_alpha/async_refreshes/{id}", nothing_kept, methods=["GET"]),
]
