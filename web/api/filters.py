"""Content filters, v2: /api/v2/filters with their keywords and statuses, as in Mastodon 4.

Every change happens in one write transaction that also announces `filters_changed` on the
owner's `user` streams; bad input raises inside the transaction, so nothing of it is kept.
Another user's filter, keyword or filter status is answered 404, like one that does not exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from models.filters import (
    ACTIONS,
    CONTEXTS,
    Filter,
    FilterKeyword,
    FilterStatus,
    keywords_of,
    statuses_of,
)
from models.status import Status
from models.visibility import visible_to
from outbox import events
from web.api.base import Call, call, ok
from web.api.errors import not_found, validation
from web.api.params import Params, parse_id
from web.api.serializers import iso

READ, WRITE = "read:filters", "write:filters"
MAX_TEXT = 255
MAX_FILTERS = 100  # per account
MAX_KEYWORDS = 100  # per filter
MAX_EXPIRES_IN = 10 * 365 * 24 * 3600
ACTION_ALIASES = {"blur_media": "blur"}  # the name Mastodon's method docs use for `blur`


# --- presenting --------------------------------------------------------------------------------


def present_keyword(keyword: FilterKeyword) -> dict[str, Any]:
    return {"id": str(keyword.id), "keyword": keyword.keyword, "whole_word": keyword.whole_word}


def present_status(entry: FilterStatus) -> dict[str, Any]:
    return {"id": str(entry.id), "status_id": str(entry.status_id)}


def present(
    row: Filter,
    keywords: Sequence[FilterKeyword] | None = None,
    statuses: Sequence[FilterStatus] | None = None,
) -> dict[str, Any]:
    """Mastodon's Filter; inside a FilterResult it comes without keywords and statuses."""
    data: dict[str, Any] = {
        "id": str(row.id),
        "title": row.title,
        "context": list(row.context),
        "expires_at": iso(row.expires_at),
        "filter_action": row.action,
    }
    if keywords is not None:
        data["keywords"] = [present_keyword(k) for k in keywords]
    if statuses is not None:
        data["statuses"] = [present_status(s) for s in statuses]
    return data


async def present_all(session: AsyncSession, rows: Sequence[Filter]) -> list[dict[str, Any]]:
    ids = [row.id for row in rows]
    keywords: dict[int, list[FilterKeyword]] = {i: [] for i in ids}
    for keyword in await keywords_of(session, ids):
        keywords[keyword.filter_id].append(keyword)
    statuses: dict[int, list[FilterStatus]] = {i: [] for i in ids}
    for entry in await statuses_of(session, ids):
        statuses[entry.filter_id].append(entry)
    return [present(row, keywords[row.id], statuses[row.id]) for row in rows]


# --- reading what the client sent ---------------------------------------------------------------


def required_text(params: Params, name: str, label: str, current: str | None) -> str:
    """A non-blank text up to MAX_TEXT characters; `current` when absent (updates)."""
    value = params.text(name, current, max_length=MAX_TEXT)
    if value is None or not value.strip():
        raise validation(f"{label} can't be blank")
    return value.strip()


def contexts(params: Params, name: str, current: list[str] | None) -> list[str]:
    if name not in params and current is not None:
        return current
    wanted = list(dict.fromkeys(params.strings(name)))
    if not wanted:
        raise validation("Context can't be blank")
    if any(context not in CONTEXTS for context in wanted):
        raise validation("Context None or invalid context supplied")
    return wanted


def action(params: Params, current: str) -> str:
    value = params.text("filter_action") or current
    value = ACTION_ALIASES.get(value, value)
    if value not in ACTIONS:
        raise validation(f"Filter action must be one of {', '.join(ACTIONS)}")
    return value


def expiry(params: Params, current: datetime | None) -> datetime | None:
    """`expires_in` seconds from now; empty or null means never; absent keeps `current`."""
    if "expires_in" not in params:
        return current
    raw = params.raw("expires_in")
    if raw is None or raw == "":
        return None
    seconds = params.number("expires_in")
    if seconds is None or not 0 <= seconds <= MAX_EXPIRES_IN:
        raise validation(f"Expires in must be between 0 and {MAX_EXPIRES_IN} seconds")
    return datetime.now(UTC) + timedelta(seconds=seconds)


def keyword_changes(params: Params) -> list[Params]:
    """`keywords_attributes[]` as one Params per keyword.

    Form encodings (`keywords_attributes[][keyword]=a&keywords_attributes[][whole_word]=1`)
    arrive as one single-key object per field; they are regrouped as Rails does, a new keyword
    starting where a field repeats. JSON clients send whole objects, which are kept as sent.
    """
    items = params.items("keywords_attributes")
    if not all(isinstance(item, dict) for item in items):
        raise validation("Keywords attributes must be a list of objects")
    if not all(len(item) == 1 for item in items):
        return [Params(item) for item in items]
    groups: list[dict[str, Any]] = []
    for item in items:
        if not groups or set(item) & set(groups[-1]):
            groups.append({})
        groups[-1].update(item)
    return [Params(group) for group in groups]


# --- the caller's own records --------------------------------------------------------------------


async def own_filter(session: AsyncSession, c: Call, raw_id: str) -> Filter:
    row = await session.get(Filter, parse_id(raw_id))
    if row is None or row.account_id != c.account.id:
        raise not_found()
    return row


async def own_keyword(session: AsyncSession, c: Call, raw_id: str) -> FilterKeyword:
    row = await session.get(FilterKeyword, parse_id(raw_id))
    if row is None:
        raise not_found()
    await own_filter(session, c, str(row.filter_id))
    return row


async def own_filter_status(session: AsyncSession, c: Call, raw_id: str) -> FilterStatus:
    row = await session.get(FilterStatus, parse_id(raw_id))
    if row is None:
        raise not_found()
    await own_filter(session, c, str(row.filter_id))
    return row


async def count(session: AsyncSession, query: Any) -> int:
    return int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)


async def check_keyword_room(session: AsyncSession, filter_id: int) -> None:
    await session.flush()
    if (
        await count(session, select(FilterKeyword.id).where(FilterKeyword.filter_id == filter_id))
        > MAX_KEYWORDS
    ):
        raise validation(f"A filter can have at most {MAX_KEYWORDS} keywords")


def new_keyword(filter_id: int, params: Params) -> FilterKeyword:
    return FilterKeyword(
        filter_id=filter_id,
        keyword=required_text(params, "keyword", "Keyword", None),
        whole_word=params.flag("whole_word", True),
    )


async def apply_keyword_changes(session: AsyncSession, row: Filter, changes: list[Params]) -> None:
    """Add, change and (`_destroy`) remove keywords; an id not of this filter is a 404."""
    for change in changes:
        keyword_id = change.id("id")
        destroy = change.flag("_destroy")
        if keyword_id is None:
            if not destroy:
                session.add(new_keyword(row.id, change))
            continue
        keyword = await session.get(FilterKeyword, keyword_id)
        if keyword is None or keyword.filter_id != row.id:
            raise not_found()
        if destroy:
            await session.delete(keyword)
            continue
        keyword.keyword = required_text(change, "keyword", "Keyword", keyword.keyword)
        keyword.whole_word = change.flag("whole_word", keyword.whole_word)
    await check_keyword_room(session, row.id)


# --- filters -------------------------------------------------------------------------------------


async def index(request: Request) -> Response:
    c = await call(request, READ)
    async with c.node.db.read() as session:
        query = select(Filter).where(Filter.account_id == c.account.id).order_by(Filter.id)
        return ok(await present_all(session, list((await session.execute(query)).scalars())))


async def create(request: Request) -> Response:
    c = await call(request, WRITE)
    p = c.params
    async with c.node.db.write() as session:
        mine = select(Filter.id).where(Filter.account_id == c.account.id)
        if await count(session, mine) >= MAX_FILTERS:
            raise validation(f"You cannot have more than {MAX_FILTERS} filters")
        row = Filter(
            account_id=c.account.id,
            title=required_text(p, "title", "Title", None),
            context=contexts(p, "context", None),
            action=action(p, "warn"),
            expires_at=expiry(p, None),
        )
        session.add(row)
        await session.flush()
        changes = keyword_changes(p)
        if any(change.id("id") is not None for change in changes):
            raise not_found()  # as Mastodon: a new filter has no keywords to refer to
        await apply_keyword_changes(session, row, changes)
        events.filters_changed(session, c.account.id)
        return ok((await present_all(session, [row]))[0])


async def show(request: Request) -> Response:
    c = await call(request, READ)
    async with c.node.db.read() as session:
        row = await own_filter(session, c, request.path_params["id"])
        return ok((await present_all(session, [row]))[0])


async def update(request: Request) -> Response:
    c = await call(request, WRITE)
    p = c.params
    async with c.node.db.write() as session:
        row = await own_filter(session, c, request.path_params["id"])
        row.title = required_text(p, "title", "Title", row.title)
        row.context = contexts(p, "context", row.context)
        row.action = action(p, row.action)
        row.expires_at = expiry(p, row.expires_at)
        await apply_keyword_changes(session, row, keyword_changes(p))
        events.filters_changed(session, c.account.id)
        return ok((await present_all(session, [row]))[0])


async def destroy(request: Request) -> Response:
    c = await call(request, WRITE)
    async with c.node.db.write() as session:
        row = await own_filter(session, c, request.path_params["id"])
        await session.delete(row)
        events.filters_changed(session, c.account.id)
    return ok()


# --- keywords ------------------------------------------------------------------------------------


async def keywords(request: Request) -> Response:
    c = await call(request, READ)
    async with c.node.db.read() as session:
        row = await own_filter(session, c, request.path_params["id"])
        return ok([present_keyword(k) for k in await keywords_of(session, [row.id])])


async def add_keyword(request: Request) -> Response:
    c = await call(request, WRITE)
    async with c.node.db.write() as session:
        row = await own_filter(session, c, request.path_params["id"])
        keyword = new_keyword(row.id, c.params)
        session.add(keyword)
        await check_keyword_room(session, row.id)
        events.filters_changed(session, c.account.id)
        return ok(present_keyword(keyword))


async def show_keyword(request: Request) -> Response:
    c = await call(request, READ)
    async with c.node.db.read() as session:
        return ok(present_keyword(await own_keyword(session, c, request.path_params["id"])))


async def update_keyword(request: Request) -> Response:
    c = await call(request, WRITE)
    async with c.node.db.write() as session:
        keyword = await own_keyword(session, c, request.path_params["id"])
        keyword.keyword = required_text(c.params, "keyword", "Keyword", keyword.keyword)
        keyword.whole_word = c.params.flag("whole_word", keyword.whole_word)
        events.filters_changed(session, c.account.id)
        return ok(present_keyword(keyword))


async def remove_keyword(request: Request) -> Response:
    c = await call(request, WRITE)
    async with c.node.db.write() as session:
        await session.delete(await own_keyword(session, c, request.path_params["id"]))
        events.filters_changed(session, c.account.id)
    return ok()


# --- statuses ------------------------------------------------------------------------------------


async def filter_statuses(request: Request) -> Response:
    c = await call(request, READ)
    async with c.node.db.read() as session:
        row = await own_filter(session, c, request.path_params["id"])
        return ok([present_status(s) for s in await statuses_of(session, [row.id])])


async def add_status(request: Request) -> Response:
    c = await call(request, WRITE)
    status_id = c.params.id("status_id")
    if status_id is None:
        raise validation("Status can't be blank")
    async with c.node.db.write() as session:
        row = await own_filter(session, c, request.path_params["id"])
        seen = select(Status.id).where(Status.id == status_id, visible_to(c.account.id))
        if (await session.execute(seen)).first() is None:
            raise not_found()
        taken = select(FilterStatus.id).where(
            FilterStatus.filter_id == row.id, FilterStatus.status_id == status_id
        )
        if (await session.execute(taken)).first() is not None:
            raise validation("Status has already been taken")
        entry = FilterStatus(filter_id=row.id, status_id=status_id)
        session.add(entry)
        await session.flush()
        events.filters_changed(session, c.account.id)
        return ok(present_status(entry))


async def show_status(request: Request) -> Response:
    c = await call(request, READ)
    async with c.node.db.read() as session:
        return ok(present_status(await own_filter_status(session, c, request.path_params["id"])))


async def remove_status(request: Request) -> Response:
    c = await call(request, WRITE)
    async with c.node.db.write() as session:
        await session.delete(await own_filter_status(session, c, request.path_params["id"]))
        events.filters_changed(session, c.account.id)
    return ok()


routes: list[BaseRoute] = [
    Route("/api/v2/filters", index, methods=["GET"]),
    Route("/api/v2/filters", create, methods=["POST"]),
    Route("/api/v2/filters/keywords/{id}", show_keyword, methods=["GET"]),
    Route("/api/v2/filters/keywords/{id}", update_keyword, methods=["PUT", "PATCH"]),
    Route("/api/v2/filters/keywords/{id}", remove_keyword, methods=["DELETE"]),
    Route("/api/v2/filters/statuses/{id}", show_status, methods=["GET"]),
    Route("/api/v2/filters/statuses/{id}", remove_status, methods=["DELETE"]),
    Route("/api/v2/filters/{id}", show, methods=["GET"]),
    Route("/api/v2/filters/{id}", update, methods=["PUT", "PATCH"]),
    Route("/api/v2/filters/{id}", destroy, methods=["DELETE"]),
    Route("/api/v2/filters/{id}/keywords", keywords, methods=["GET"]),
    Route("/api/v2/filters/{id}/keywords", add_keyword, methods=["POST"]),
    Route("/api/v2/filters/{id}/statuses", filter_statuses, methods=["GET"]),
    Route("/api/v2/filters/{id}/statuses", add_status, methods=["POST"]),
]
