"""Announcements: Mastodon's `/api/v1/announcements` for staff (what this node shows them),
and `/api/v1/flurfunk/announcements` to publish, edit, withdraw and follow up (receipts)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from federation import values
from federation.allowlist import Allowlist
from federation.values import InvalidValue
from models.account import Account
from models.announcement import Announcement, AnnouncementMark
from outbox import announcement_federation, announcement_reads, announcements, groups, roles
from outbox.announcement_reads import Reaction
from outbox.announcements import AnnouncementError, Draft
from outbox.permissions import AdminError, MissingPermission, Operator, require
from web.api.base import Call, call, ok
from web.api.errors import ApiError, validation
from web.api.serializers.entities import iso

HERE = "/api/v1/flurfunk/announcements"


def entity(
    row: Announcement, read: bool, reactions: list[Reaction] | None = None
) -> dict[str, Any]:
    """Mastodon's Announcement entity."""
    return {
        "id": str(row.id),
        "content": row.content,
        "starts_at": iso(row.starts_at),
        "ends_at": iso(row.ends_at),
        "all_day": row.all_day,
        "published_at": iso(row.published_at),
        "updated_at": iso(row.updated_at),
        "read": read,
        "mentions": [],
        "statuses": [],
        "tags": [],
        "emojis": [],
        "reactions": [{"name": r.name, "count": r.count, "me": r.me} for r in reactions or []],
    }


async def entities(
    session: AsyncSession, pairs: list[tuple[Announcement, AnnouncementMark]], viewer_id: int
) -> list[dict[str, Any]]:
    counted = await announcement_reads.reactions(session, [a.id for a, _ in pairs], viewer_id)
    return [entity(a, m.read_at is not None, counted.get(a.id)) for a, m in pairs]


async def published_entity(session: AsyncSession, row: Announcement) -> dict[str, Any]:
    """What `/api/v1/flurfunk/announcements` says of one: Mastodon's entity and ours."""
    author = await session.get(Account, row.account_id)
    data = entity(
        row, False, (await announcement_reads.reactions(session, [row.id], None)).get(row.id)
    )
    del data["read"]
    data.update(
        {
            "uri": row.uri,
            "text": row.text,
            "audience": row.audience,
            "nodes": list(row.hosts),
            "requires_acknowledgement": row.requires_ack,
            "group": row.group_uri,
            "author": author.username if author else None,
        }
    )
    return data


def refused(exc: AdminError) -> ApiError:
    if isinstance(exc, AnnouncementError) and exc.status == 422:
        return validation(str(exc))
    return ApiError(exc.status, str(exc))


async def operator(c: Call) -> Operator:
    async with c.node.db.read() as session:
        return await roles.operator_for(session, c.account.username, c.user.role, c.account.id)


def allowlist(c: Call) -> Allowlist:
    fed = c.node.federation
    return fed.allowlist() if fed is not None else Allowlist()


def moment(c: Call, name: str) -> datetime | None:
    text = c.params.text(name, max_length=64)
    if not text:
        return None
    try:
        return values.iso_datetime(text, name)
    except InvalidValue as exc:
        raise validation(str(exc)) from None


def wake(c: Call) -> None:
    if c.node.federation is not None:
        c.node.federation.wake_deliveries()


# --- Mastodon's, for staff ------------------------------------------------------------------


async def listing(request: Request) -> Response:
    c = await call(request, "read")
    with_dismissed = c.params.flag("with_dismissed")
    async with c.node.db.write() as session:
        pairs = await announcement_reads.for_viewer(
            session, c.node.settings, c.account.id, with_read=with_dismissed
        )
        return ok(await entities(session, pairs, c.account.id))


async def dismiss(request: Request) -> Response:
    c = await call(request, "write:accounts")
    try:
        async with c.node.db.write() as session:
            await announcement_reads.dismiss(
                session, c.node.settings, c.account.id, request.path_params["id"]
            )
    except AdminError as exc:
        raise refused(exc) from None
    return ok({})


async def reaction(request: Request) -> Response:
    c = await call(request, "write:favourites")
    try:
        async with c.node.db.write() as session:
            await announcement_reads.react(
                session,
                c.node.settings,
                c.account.id,
                request.path_params["id"],
                request.path_params["name"],
                add=request.method == "PUT",
            )
    except AdminError as exc:
        raise refused(exc) from None
    return ok({})


# --- Flurfunk's, for those who announce ------------------------------------------------------


async def publish(request: Request) -> Response:
    c = await call(request, "write")
    who = await operator(c)
    draft = Draft(
        text=c.params.text("text", "", max_length=announcements.MAX_TEXT * 2) or "",
        audience=c.params.text("audience", "company", max_length=4000) or "company",
        starts_at=moment(c, "starts_at"),
        ends_at=moment(c, "ends_at"),
        requires_ack=c.params.flag("requires_acknowledgement"),
        all_day=c.params.flag("all_day"),
    )
    try:
        async with c.node.db.write() as session:
            row = await announcements.publish(
                session, c.node.settings, allowlist(c), who, c.account, draft
            )
            answer = await published_entity(session, row)
    except AdminError as exc:
        raise refused(exc) from None
    wake(c)
    return ok(answer)


async def mine(request: Request) -> Response:
    """Everything this node published for those who announce; a group moderator (who may
    announce to their group only) sees their own, and anyone else is refused."""
    c = await call(request, "read")
    who = await operator(c)
    async with c.node.db.read() as session:
        rows = await announcements.published(session)
        if not who.may("announce"):
            rows = [r for r in rows if r.account_id == c.account.id]
            if not rows and not await groups.moderated_group_ids(session, c.account.id):
                raise refused(MissingPermission("announce"))
        return ok([await published_entity(session, r) for r in rows])


async def one(request: Request) -> Response:
    c = await call(request, "read")
    who = await operator(c)
    try:
        async with c.node.db.read() as session:
            row = await announcements.own_announcement(session, request.path_params["id"])
            if row.account_id != c.account.id:
                require(who, "announce")
            return ok(await published_entity(session, row))
    except AdminError as exc:
        raise refused(exc) from None


async def change(request: Request) -> Response:
    c = await call(request, "write")
    who = await operator(c)
    requires_ack = (
        c.params.flag("requires_acknowledgement")
        if "requires_acknowledgement" in c.params
        else None
    )
    try:
        async with c.node.db.write() as session:
            row = await announcements.edit(
                session,
                c.node.settings,
                allowlist(c),
                who,
                request.path_params["id"],
                text=c.params.text("text", None, max_length=announcements.MAX_TEXT * 2),
                starts_at=moment(c, "starts_at"),
                ends_at=moment(c, "ends_at"),
                requires_ack=requires_ack,
                audience=c.params.text("audience", None, max_length=4000),
            )
            answer = await published_entity(session, row)
    except AdminError as exc:
        raise refused(exc) from None
    wake(c)
    return ok(answer)


async def withdraw(request: Request) -> Response:
    c = await call(request, "write")
    who = await operator(c)
    try:
        async with c.node.db.write() as session:
            row = await announcements.own_announcement(session, request.path_params["id"])
            answer = await published_entity(session, row)
            await announcements.withdraw(
                session, c.node.settings, allowlist(c), who, request.path_params["id"]
            )
    except AdminError as exc:
        raise refused(exc) from None
    wake(c)
    return ok(answer)


async def receipts(request: Request) -> Response:
    c = await call(request, "read")
    who = await operator(c)
    try:
        async with c.node.db.read() as session:
            row = await announcements.own_announcement(session, request.path_params["id"])
            announcements.may_see_receipts(who, row)
            return ok(await announcement_federation.receipts(session, c.node.settings, row))
    except AdminError as exc:
        raise refused(exc) from None


routes: list[BaseRoute] = [
    Route("/api/v1/announcements", listing, methods=["GET"]),
    Route("/api/v1/announcements/{id}/dismiss", dismiss, methods=["POST"]),
    Route("/api/v1/announcements/{id}/reactions/{name}", reaction, methods=["PUT", "DELETE"]),
    Route(HERE, mine, methods=["GET"]),
    Route(HERE, publish, methods=["POST"]),
    Route(HERE + "/{id}", one, methods=["GET"]),
    Route(HERE + "/{id}", change, methods=["PATCH", "PUT"]),
    Route(HERE + "/{id}", withdraw, methods=["DELETE"]),
    Route(HERE + "/{id}/receipts", receipts, methods=["GET"]),
]
