"""Interactions with a status: favourite, boost, bookmark, pin (and their undo), and who
favourited or boosted it."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from models.account import Account
from models.interaction import Favourite
from models.status import Status
from models.visibility import not_blocked_either_way
from outbox import interactions
from outbox.context import Federation
from outbox.status_parts import InvalidStatus, NotPermitted, StatusNotFound, load_visible
from web.api import serializers
from web.api.base import call, ok, page_of, paginated
from web.api.errors import forbidden, not_found, validation
from web.api.federating import federation, wake_deliveries
from web.api.params import parse_id
from web.api.policy_gate import Endpoint, policy_gated
from web.node import node_of

ACCOUNTS_PAGE = 40
ACCOUNTS_MAX = 80

Action = Callable[[AsyncSession, Account, int], Awaitable[Status]]


class FederatedAction(Protocol):
    def __call__(
        self, session: AsyncSession, actor: Account, status_id: int, /, *, fed: Federation | None
    ) -> Awaitable[Status]: ...


@contextlib.contextmanager
def status_errors() -> Iterator[None]:
    """Answer what the status actions refuse with Mastodon's status codes."""
    try:
        yield
    except InvalidStatus as exc:
        raise validation(exc.message) from None
    except StatusNotFound:
        raise not_found() from None
    except NotPermitted as exc:
        raise forbidden(exc.message or "This action is not allowed") from None


def _endpoint(action: Action, scope: str) -> Callable[[Request], Awaitable[Response]]:
    """POST /api/v1/statuses/:id/<action>: do it, answer the status as the caller now sees it."""

    async def endpoint(request: Request) -> Response:
        c = await call(request, scope)
        status_id = parse_id(request.path_params["id"])
        async with c.node.db.write() as session:
            with status_errors():
                status = await action(session, c.account, status_id)
            data = await serializers.status(session, c.node.links(), status, c.viewer_id)
        wake_deliveries(c)
        return ok(data)

    return endpoint


def _federated(action: FederatedAction, scope: str) -> Callable[[Request], Awaitable[Response]]:
    """Like `_endpoint`, for actions that other nodes hear of (favourites, boosts)."""

    async def endpoint(request: Request) -> Response:
        fed = node_of(request).federation

        async def act(session: AsyncSession, actor: Account, status_id: int) -> Status:
            return await action(session, actor, status_id, fed=fed)

        return await _endpoint(act, scope)(request)

    return endpoint


@policy_gated
async def reblog(request: Request) -> Response:
    c = await call(request, "write:statuses")
    status_id = parse_id(request.path_params["id"])
    visibility = c.params.text("visibility") or None
    settings = c.node.settings
    async with c.node.db.write() as session:
        with status_errors():
            boost = await interactions.reblog(
                session, settings, c.account, status_id, visibility, fed=federation(c)
            )
        data = await serializers.status(session, c.node.links(), boost, c.viewer_id)
    # As Mastodon's answer: the wrapper carries the viewer's marks of the boosted status.
    inner = data.get("reblog") or {}
    data.update({k: inner[k] for k in ("favourited", "reblogged", "bookmarked") if k in inner})
    wake_deliveries(c)
    return ok(data)


async def _accounts(request: Request, favourites: bool) -> Response:
    c = await call(request, "read:statuses", optional=True)
    status_id = parse_id(request.path_params["id"])
    page = page_of(c.params, ACCOUNTS_PAGE, ACCOUNTS_MAX)
    async with c.node.db.read() as session:
        with status_errors():
            status = await load_visible(session, c.viewer_id, status_id)
        original_id = status.reblog_of_id or status.id
        query: Any
        if favourites:
            cursor = Favourite.id
            query = select(Favourite.id, Account).join(Account, Account.id == Favourite.account_id)
            query = query.where(Favourite.status_id == original_id)
        else:
            boost = aliased(Status)
            cursor = boost.id
            query = select(boost.id, Account).join(Account, Account.id == boost.account_id)
            query = query.where(boost.reblog_of_id == original_id)
        query = query.where(
            Account.suspended_at.is_(None),
            not_blocked_either_way(c.viewer_id, Account.id.expression),
        )
        rows = page.settle((await session.execute(page.apply(query, cursor))).all())
    links = c.node.links()
    return paginated(
        c, [serializers.account(a, links) for _, a in rows], [cursor_id for cursor_id, _ in rows]
    )


async def favourited_by(request: Request) -> Response:
    return await _accounts(request, favourites=True)


async def reblogged_by(request: Request) -> Response:
    return await _accounts(request, favourites=False)


_FEDERATED: list[tuple[str, FederatedAction, str]] = [
    ("favourite", interactions.favourite, "write:favourites"),
    ("unfavourite", interactions.unfavourite, "write:favourites"),
    ("unreblog", interactions.unreblog, "write:statuses"),
]
_ACTIONS: list[tuple[str, Action, str]] = [
    ("bookmark", interactions.bookmark, "write:bookmarks"),
    ("unbookmark", interactions.unbookmark, "write:bookmarks"),
    ("pin", interactions.pin, "write:accounts"),
    ("unpin", interactions.unpin, "write:accounts"),
]

# Favouriting and pinning show others something; undoing and bookmarking do not.
_GATED = {"favourite", "pin"}


def _gated(name: str, endpoint: Endpoint) -> Endpoint:
    return policy_gated(endpoint) if name in _GATED else endpoint


routes: list[BaseRoute] = [
    *(
        Route(
            f"/api/v1/statuses/{{id}}/{name}",
            _gated(name, _federated(action, scope)),
            methods=["POST"],
        )
        for name, action, scope in _FEDERATED
    ),
    *(
        Route(
            f"/api/v1/statuses/{{id}}/{name}",
            _gated(name, _endpoint(action, scope)),
            methods=["POST"],
        )
        for name, action, scope in _ACTIONS
    ),
    Route("/api/v1/statuses/{id}/reblog", reblog, methods=["POST"]),
    Route("/api/v1/statuses/{id}/favourited_by", favourited_by, methods=["GET"]),
    Route("/api/v1/statuses/{id}/reblogged_by", reblogged_by, methods=["GET"]),
]
