"""The usage-policy gate: the one check that stops people who have not accepted the current
policy from publishing or interacting.

`@policy_gated` marks an endpoint (API or page) that publishes or interacts: statuses (new and
edited), media, poll votes, favourites, boosts, follows, direct messages (statuses too) and
reports. Everything else stays open: reading, signing in, one's own settings, undoing and
deleting, blocking and muting, accepting the policy, OAuth and admin work. Without a policy
nothing is gated. Publishing one needs the `manage_policy` permission
(outbox.policy.publish checks it).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from models import policy
from web.api.base import PAGE_CALLER, TOKEN_CALLER, bearer_token
from web.api.errors import ApiError
from web.auth import Caller, caller_for_token
from web.node import node_of
from web.ui.session import web_caller

Endpoint = Callable[[Request], Awaitable[Response]]
POLICY_PATH = "/policy"


class PolicyNotAccepted(ApiError):
    """403 for the API (with `policy_url`); a browser is sent to the policy page instead."""

    def __init__(self, policy_url: str, version: int) -> None:
        # The URL is in the message too: apps show `error`, few know `policy_url`.
        super().__init__(
            403,
            f"Please accept the usage policy (version {version}) first: {policy_url}",
        )
        self.policy_url = policy_url


async def _caller(request: Request, session: AsyncSession) -> Caller | None:
    token = bearer_token(request)
    if token is not None:
        caller = await caller_for_token(session, token)
        if caller is not None:
            request.scope[TOKEN_CALLER] = caller
        return caller
    if PAGE_CALLER in request.scope:
        page_caller: Caller | None = request.scope[PAGE_CALLER]
        return page_caller
    if request.url.path.startswith("/api/"):
        return None  # the API is token-only; the endpoint refuses the anonymous call
    return await web_caller(request)


async def check_policy_accepted(request: Request) -> None:
    node = node_of(request)
    async with node.db.read() as session:
        caller = await _caller(request, session)
        if caller is None or caller.account is None or caller.user is None:
            return  # anonymous or app-only: the endpoint itself answers 401/422
        if caller.account.suspended_at is not None:
            return  # the endpoint answers with the suspension
        pending = await policy.needs_acceptance(session, caller.account.id)
    if pending is not None:
        raise PolicyNotAccepted(node.settings.url(POLICY_PATH), pending.version)


def policy_gated(endpoint: Endpoint) -> Endpoint:
    @functools.wraps(endpoint)
    async def gated(request: Request) -> Response:
        await check_policy_accepted(request)
        return await endpoint(request)

    return gated
