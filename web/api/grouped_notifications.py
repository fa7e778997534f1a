"""Grouped notifications (Mastodon 4.3, API version 2): /api/v2/notifications and friends.

A page holds up to `limit` groups, each shown through its newest notification in the page's
range; which notifications a reader sees, and how types, senders and filters narrow them, is
exactly the v1 list's (web.api.notifications). `models.notification_groups` says which
notifications share a group.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from models.notification import Notification
from models.notification_groups import (
    GROUPABLE,
    GroupKey,
    group_key,
    group_sql,
    parse_group_key,
)
from models.tables import Account
from outbox import notify
from web.api import filtering, serializers
from web.api.base import Call, call, ok, page_of, paginated
from web.api.errors import not_found, validation
from web.api.notifications import (
    PAGE,
    PAGE_MAX,
    UNREAD_DEFAULT,
    UNREAD_MAX,
    filtered,
    from_allowed_hosts,
    read_up_to,
    readable,
)

SAMPLE_ACCOUNTS = 8  # as Mastodon
SCAN_CHUNK = 200  # notifications read at a time while looking for a page's groups
EXPAND = ("full", "partial_avatars")


@dataclass
class Members:
    """What a group holds up to the page's newest notification."""

    ids: list[int] = field(default_factory=list)  # newest first
    senders: list[int] = field(default_factory=list)
    created: list[datetime] = field(default_factory=list)


def grouped_types(c: Call) -> tuple[str, ...]:
    asked = c.params.strings("grouped_types")
    return tuple(t for t in GROUPABLE if t in asked) if asked else GROUPABLE


async def _members(
    c: Call, session: AsyncSession, keys: Collection[GroupKey], up_to: int | None
) -> dict[str, Members]:
    """Each group's notifications that the reader may see, newest first, in one query (each
    group is a short index range: one type, one status, one window)."""
    found: dict[str, Members] = {key.text: Members() for key in keys}
    if not found:
        return found
    query = await from_allowed_hosts(
        c,
        readable(
            c.account.id,
            Notification.id,
            Notification.type,
            Notification.status_id,
            Notification.from_account_id,
            Notification.created_at,
        ).where(or_(*(key.condition for key in keys))),
    )
    if up_to is not None:
        query = query.where(Notification.id <= up_to)
    rows = await session.execute(query.order_by(Notification.id.desc()))
    single = {key.text for key in keys if key.text.startswith("ungrouped-")}
    for notification_id, kind, status_id, sender, created in rows.all():
        alone = f"ungrouped-{notification_id}"
        members = found.get(
            alone if alone in single else group_key(kind, status_id, notification_id)
        )
        if members is not None:
            members.ids.append(notification_id)
            members.senders.append(sender)
            members.created.append(created)
    return found


def _samples(senders: Sequence[int]) -> list[int]:
    return list(dict.fromkeys(senders))[:SAMPLE_ACCOUNTS]


async def _present(
    c: Call,
    session: AsyncSession,
    rows: Sequence[Notification],
    keys: dict[int, str],
    page_range: tuple[int, int] | None,
) -> dict[str, Any]:
    """GroupedNotificationsResults for representatives `rows` (newest first) and their keys."""
    items = await serializers.notifications(session, c.node.links(), rows, c.account.id)
    items = await filtering.notifications(c, items)
    shown = {int(item["id"]): item for item in items}
    parsed = [parse_group_key(keys[r.id]) for r in rows if r.id in shown]
    grouped = [k for k in parsed if k is not None and not k.text.startswith("ungrouped-")]
    members = await _members(c, session, grouped, page_range[1] if page_range else None)
    groups: list[dict[str, Any]] = []
    statuses: dict[str, Any] = {}
    sender_ids: list[int] = []
    first_senders: list[int] = []
    for row in rows:
        item = shown.get(row.id)
        if item is None:
            continue
        key = keys[row.id]
        group = members.get(key)
        if group is None or not group.ids:
            group = Members([row.id], [row.from_account_id], [row.created_at])
        samples = _samples(group.senders)
        entry: dict[str, Any] = {
            "group_key": key,
            "notifications_count": len(group.ids),
            "type": row.type,
            "most_recent_notification_id": str(group.ids[0]),
            "sample_account_ids": [str(s) for s in samples],
        }
        if page_range is not None:
            in_page = [
                (i, at)
                for i, at in zip(group.ids, group.created, strict=True)
                if page_range[0] <= i <= page_range[1]
            ] or [(row.id, row.created_at)]
            entry["page_min_id"] = str(in_page[-1][0])
            entry["page_max_id"] = str(in_page[0][0])
            entry["latest_page_notification_at"] = serializers.iso(in_page[0][1])
        if item.get("status") is not None:
            entry["status_id"] = item["status"]["id"]
            statuses.setdefault(item["status"]["id"], item["status"])
        for extra in ("report", "moderation_warning"):  # as Mastodon's NotificationGroup
            if extra in item:
                entry[extra] = item[extra]
        groups.append(entry)
        sender_ids.extend(samples)
        first_senders.append(samples[0])
    return await _with_accounts(
        c, session, groups, list(statuses.values()), sender_ids, first_senders
    )


async def _with_accounts(
    c: Call,
    session: AsyncSession,
    groups: list[dict[str, Any]],
    statuses: list[Any],
    sender_ids: list[int],
    first_senders: list[int],
) -> dict[str, Any]:
    """Accounts once each at the root; with `partial_avatars`, only each group's newest
    sender in full and the others in `partial_accounts`."""
    expand = c.params.raw("expand_accounts") or "full"
    if expand not in EXPAND:
        raise validation("expand_accounts must be full or partial_avatars")
    wanted = list(dict.fromkeys(sender_ids))
    found = await session.execute(select(Account).where(Account.id.in_(wanted)))
    rows = {a.id: a for a in found.scalars()}
    links = c.node.links()
    full_ids = wanted if expand == "full" else list(dict.fromkeys(first_senders))
    answer: dict[str, Any] = {
        "accounts": [serializers.account(rows[i], links) for i in full_ids if i in rows],
        "statuses": statuses,
        "notification_groups": groups,
    }
    if expand == "partial_avatars":
        full = set(full_ids)
        answer["partial_accounts"] = [
            _partial(serializers.account(rows[i], links))
            for i in wanted
            if i in rows and i not in full
        ]
    return answer


def _partial(account: dict[str, Any]) -> dict[str, Any]:
    """PartialAccountWithAvatar: what a row of avatars needs."""
    keep = ("id", "acct", "url", "avatar", "avatar_static", "locked", "bot")
    return {k: account[k] for k in keep}


async def first_of_groups(
    session: AsyncSession, query: Select[Any], want: int, *, oldest_first: bool = False
) -> dict[int, str]:
    """The first `want` groups met walking `query` (notification id, group key) newest first
    (or oldest first), each with the id it was met by.

    Read in chunks and stopped once enough groups are met, so a page costs about what its
    groups hold, not the reader's whole history."""
    order = Notification.id.asc() if oldest_first else Notification.id.desc()
    met: dict[str, int] = {}
    cursor: int | None = None
    while len(met) < want:
        chunk = query.order_by(order).limit(SCAN_CHUNK)
        if cursor is not None:
            chunk = chunk.where(
                Notification.id > cursor if oldest_first else Notification.id < cursor
            )
        rows = (await session.execute(chunk)).all()
        for notification_id, key in rows:
            met.setdefault(key, notification_id)
            if len(met) == want:
                break
        if len(rows) < SCAN_CHUNK:
            break
        cursor = rows[-1][0]
    return {notification_id: key for key, notification_id in met.items()}


async def index(request: Request) -> Response:
    c = await call(request, "read:notifications")
    page = page_of(c.params, PAGE, PAGE_MAX)
    key = group_sql(grouped_types(c)).label("group_key")
    query = await from_allowed_hosts(
        c, filtered(readable(c.account.id, Notification.id, key), c.params)
    )
    if page.max_id is not None:
        query = query.where(Notification.id < page.max_id)
    if page.since_id is not None:
        query = query.where(Notification.id > page.since_id)
    if page.min_id is not None:
        query = query.where(Notification.id > page.min_id)
    async with c.node.db.read() as session:
        # Each group through its newest notification in range; with min_id, the groups right
        # after min_id, each through its oldest one there (as Mastodon pages forward).
        keys = await first_of_groups(
            session, query, page.limit, oldest_first=page.min_id is not None
        )
        found = await session.execute(select(Notification).where(Notification.id.in_(keys)))
        rows = sorted(found.scalars(), key=lambda n: n.id, reverse=True)
        page_range = (rows[-1].id, rows[0].id) if rows else None
        answer = await _present(c, session, rows, keys, page_range)
    response = paginated(c, [], [n.id for n in rows])
    return ok(answer, headers={k: v for k, v in response.headers.items() if k == "link"})


async def _group(c: Call, session: AsyncSession, text: str) -> tuple[GroupKey, Notification]:
    """A group the reader may see and its newest notification, else 404."""
    key = parse_group_key(text)
    if key is None:
        raise not_found()
    query = await from_allowed_hosts(c, readable(c.account.id, Notification).where(key.condition))
    newest = (await session.execute(query.order_by(Notification.id.desc()).limit(1))).scalar()
    if newest is None:
        raise not_found()
    return key, newest


async def show(request: Request) -> Response:
    c = await call(request, "read:notifications")
    async with c.node.db.read() as session:
        key, newest = await _group(c, session, request.path_params["group_key"])
        answer = await _present(c, session, [newest], {newest.id: key.text}, None)
    if not answer["notification_groups"]:
        raise not_found()  # its status is hidden by one of the reader's filters
    return ok(answer)


async def accounts(request: Request) -> Response:
    """Everyone whose notification is in the group, newest first."""
    c = await call(request, "read:notifications")
    async with c.node.db.read() as session:
        key, _ = await _group(c, session, request.path_params["group_key"])
        members = (await _members(c, session, [key], None))[key.text]
        senders = list(dict.fromkeys(members.senders))
        found = await session.execute(select(Account).where(Account.id.in_(senders)))
        rows = {a.id: a for a in found.scalars()}
    links = c.node.links()
    return ok([serializers.account(rows[i], links) for i in senders if i in rows])


async def dismiss(request: Request) -> Response:
    c = await call(request, "write:notifications")
    key = parse_group_key(request.path_params["group_key"])
    if key is None:
        raise not_found()
    async with c.node.db.write() as session:
        if not await notify.dismiss_group(session, c.account.id, key):
            raise not_found()
    return ok()


async def unread_count(request: Request) -> Response:
    """How many groups hold a notification newer than the notifications marker, up to
    `limit`."""
    c = await call(request, "read:notifications")
    limit = c.params.number("limit", UNREAD_DEFAULT, minimum=1, maximum=UNREAD_MAX)
    key = group_sql(grouped_types(c)).label("group_key")
    query = await from_allowed_hosts(
        c, filtered(readable(c.account.id, Notification.id, key), c.params)
    )
    async with c.node.db.read() as session:
        last_read = await read_up_to(session, c.account.id)
        if last_read is not None:
            query = query.where(Notification.id > last_read)
        groups = await first_of_groups(session, query, limit or UNREAD_DEFAULT)
    return ok({"count": len(groups)})


routes: list[BaseRoute] = [
    Route("/api/v2/notifications", index, methods=["GET"]),
    Route("/api/v2/notifications/unread_count", unread_count, methods=["GET"]),
    Route("/api/v2/notifications/{group_key}", show, methods=["GET"]),
    Route("/api/v2/notifications/{group_key}/accounts", accounts, methods=["GET"]),
    Route("/api/v2/notifications/{group_key}/dismiss", dismiss, methods=["POST"]),
]
