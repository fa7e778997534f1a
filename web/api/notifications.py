"""Notifications: the list (by type and by sender), one of them, dismiss, clear, unread count.

Left out, whenever read: a notification about a status the reader can no longer see (made
private, author now blocking them) and one from an account either side blocks.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from models.notification import Notification
from models.personal import domain_blocked_accounts
from models.status import Status
from models.timeline import Marker
from models.visibility import not_blocked_either_way, visible_to
from outbox import notify
from web.api import filtering, serializers
from web.api.base import Call, call, ok, page_of, paginated
from web.api.errors import not_found
from web.api.hosts import account_admitted, hidden_domains, status_admitted
from web.api.params import Params, parse_id

PAGE = 40
PAGE_MAX = 80
UNREAD_DEFAULT = 100
UNREAD_MAX = 1000


def shown(viewer_id: int) -> list[ColumnElement[bool]]:
    return [
        Notification.account_id == viewer_id,
        or_(Notification.status_id.is_(None), visible_to(viewer_id)),
        not_blocked_either_way(viewer_id, Notification.from_account_id.expression),
        Notification.from_account_id.not_in(domain_blocked_accounts(viewer_id)),
    ]


def readable(viewer_id: int, *columns: Any) -> Select[Any]:
    """The viewer's notifications that they may still see (grouped ones read the same)."""
    return (
        select(*columns)
        .select_from(Notification)
        .outerjoin(Status, Status.id == Notification.status_id)
        .where(*shown(viewer_id))
    )


async def from_allowed_hosts(c: Call, query: Select[Any]) -> Select[Any]:
    """Leave out what accounts of hosts the allowlist no longer admits did or posted."""
    hidden = await hidden_domains(c.node)
    if not hidden:
        return query
    return query.where(
        account_admitted(hidden, Notification.from_account_id.expression),
        or_(Notification.status_id.is_(None), status_admitted(hidden)),
    )


def filtered(query: Select[Any], params: Params) -> Select[Any]:
    """`types[]` keeps, `exclude_types[]` drops, `account_id` picks one sender."""
    types = params.strings("types")
    if types:
        query = query.where(Notification.type.in_(types))
    excluded = params.strings("exclude_types")
    if excluded:
        query = query.where(Notification.type.not_in(excluded))
    sender = params.id("account_id")
    if sender is not None:
        query = query.where(Notification.from_account_id == sender)
    return query


async def index(request: Request) -> Response:
    c = await call(request, "read:notifications")
    page = page_of(c.params, PAGE, PAGE_MAX)
    query = filtered(readable(c.account.id, Notification), c.params)
    query = await from_allowed_hosts(c, query)
    async with c.node.db.read() as session:
        rows = page.settle(
            (await session.execute(page.apply(query, Notification.id))).scalars().all()
        )
        items = await serializers.notifications(session, c.node.links(), rows, c.account.id)
    items = await filtering.notifications(c, items)
    return paginated(c, items, [n.id for n in rows])


async def show(request: Request) -> Response:
    c = await call(request, "read:notifications")
    notification_id = parse_id(request.path_params["id"])
    query = readable(c.account.id, Notification).where(Notification.id == notification_id)
    query = await from_allowed_hosts(c, query)
    async with c.node.db.read() as session:
        row = (await session.execute(query)).scalar_one_or_none()
        items = (
            await serializers.notifications(session, c.node.links(), [row], c.account.id)
            if row is not None
            else []
        )
    if not items:
        raise not_found()
    return ok(items[0])


async def read_up_to(session: AsyncSession, account_id: int) -> int | None:
    """The notifications marker: the newest notification the account has read."""
    last_read: int | None = await session.scalar(
        select(Marker.last_read_id).where(
            Marker.account_id == account_id, Marker.timeline == "notifications"
        )
    )
    return last_read


async def unread_count(request: Request) -> Response:
    """How many arrived since the notifications read marker, up to `limit`."""
    c = await call(request, "read:notifications")
    limit = c.params.number("limit", UNREAD_DEFAULT, minimum=1, maximum=UNREAD_MAX)
    query = await from_allowed_hosts(c, filtered(readable(c.account.id, Notification.id), c.params))
    async with c.node.db.read() as session:
        last_read = await read_up_to(session, c.account.id)
        if last_read is not None:
            query = query.where(Notification.id > last_read)
        count = await session.scalar(
            select(func.count()).select_from(query.limit(limit).subquery())
        )
    return ok({"count": int(count or 0)})


async def _dismiss(c: Call, raw_id: Any) -> Response:
    if raw_id is None or raw_id == "":
        raise not_found()
    notification_id = parse_id(raw_id)
    async with c.node.db.write() as session:
        if not await notify.dismiss(session, c.account.id, notification_id):
            raise not_found()
    return ok()


async def dismiss(request: Request) -> Response:
    c = await call(request, "write:notifications")
    return await _dismiss(c, request.path_params["id"])


async def dismiss_legacy(request: Request) -> Response:
    """POST /api/v1/notifications/dismiss with an `id` parameter (before Mastodon 2.9.2)."""
    c = await call(request, "write:notifications")
    return await _dismiss(c, c.params.raw("id"))


async def clear(request: Request) -> Response:
    c = await call(request, "write:notifications")
    async with c.node.db.write() as session:
        await notify.clear(session, c.account.id)
    return ok()


routes: list[BaseRoute] = [
    Route("/api/v1/notifications", index, methods=["GET"]),
    Route("/api/v1/notifications/unread_count", unread_count, methods=["GET"]),
    Route("/api/v1/notifications/clear", clear, methods=["POST"]),
    Route("/api/v1/notifications/dismiss", dismiss_legacy, methods=["POST"]),
    Route("/api/v1/notifications/{id}", show, methods=["GET"]),
    Route("/api/v1/notifications/{id}/dismiss", dismiss, methods=["POST"]),
]
