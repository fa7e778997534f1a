"""Content filters, v1: /api/v1/filters, Mastodon's older one-phrase filters.

As in Mastodon 4, a v1 filter is one keyword of a v2 filter (its id is the keyword's id):
creating one makes a filter titled after the phrase with that single keyword; `irreversible`
is the `hide` action. Changing context, expiry or irreversibility of a filter that holds
several keywords is refused — that is v2's business. Deleting the last keyword of a filter
that filters no statuses deletes the filter, so that a v1 client leaves nothing behind.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from models.filters import Filter, FilterKeyword, FilterStatus
from outbox import events
from web.api.base import call, ok
from web.api.errors import validation
from web.api.filters import (
    MAX_FILTERS,
    READ,
    WRITE,
    contexts,
    count,
    expiry,
    own_filter,
    own_keyword,
    required_text,
)
from web.api.serializers import iso


def present(keyword: FilterKeyword, row: Filter) -> dict[str, Any]:
    return {
        "id": str(keyword.id),
        "phrase": keyword.keyword,
        "context": list(row.context),
        "whole_word": keyword.whole_word,
        "expires_at": iso(row.expires_at),
        "irreversible": row.action == "hide",
    }


async def index(request: Request) -> Response:
    c = await call(request, READ)
    async with c.node.db.read() as session:
        rows = await session.execute(
            select(FilterKeyword, Filter)
            .join(Filter, Filter.id == FilterKeyword.filter_id)
            .where(Filter.account_id == c.account.id)
            .order_by(FilterKeyword.id)
        )
        return ok([present(keyword, row) for keyword, row in rows])


async def create(request: Request) -> Response:
    c = await call(request, WRITE)
    p = c.params
    async with c.node.db.write() as session:
        mine = select(Filter.id).where(Filter.account_id == c.account.id)
        if await count(session, mine) >= MAX_FILTERS:
            raise validation(f"You cannot have more than {MAX_FILTERS} filters")
        phrase = required_text(p, "phrase", "Phrase", None)
        row = Filter(
            account_id=c.account.id,
            title=phrase,
            context=contexts(p, "context", None),
            action="hide" if p.flag("irreversible") else "warn",
            expires_at=expiry(p, None),
        )
        session.add(row)
        await session.flush()
        keyword = FilterKeyword(
            filter_id=row.id, keyword=phrase, whole_word=p.flag("whole_word", True)
        )
        session.add(keyword)
        await session.flush()
        events.filters_changed(session, c.account.id)
        return ok(present(keyword, row))


async def show(request: Request) -> Response:
    c = await call(request, READ)
    async with c.node.db.read() as session:
        keyword = await own_keyword(session, c, request.path_params["id"])
        row = await own_filter(session, c, str(keyword.filter_id))
        return ok(present(keyword, row))


async def update(request: Request) -> Response:
    c = await call(request, WRITE)
    p = c.params
    async with c.node.db.write() as session:
        keyword = await own_keyword(session, c, request.path_params["id"])
        row = await own_filter(session, c, str(keyword.filter_id))
        old_phrase = keyword.keyword
        keyword.keyword = required_text(p, "phrase", "Phrase", keyword.keyword)
        keyword.whole_word = p.flag("whole_word", keyword.whole_word)
        wanted = (
            contexts(p, "context", row.context),
            "hide" if p.flag("irreversible", row.action == "hide") else "warn",
            expiry(p, row.expires_at),
        )
        siblings = select(FilterKeyword.id).where(FilterKeyword.filter_id == row.id)
        if wanted != (row.context, row.action, row.expires_at):
            if await count(session, siblings) > 1:
                raise validation(
                    "This filter holds several keywords: change its context, expiry or "
                    "action through /api/v2/filters"
                )
            row.context, row.action, row.expires_at = wanted
        if row.title == old_phrase and await count(session, siblings) == 1:
            row.title = keyword.keyword  # the filter was named after its one phrase
        events.filters_changed(session, c.account.id)
        return ok(present(keyword, row))


async def destroy(request: Request) -> Response:
    c = await call(request, WRITE)
    async with c.node.db.write() as session:
        keyword = await own_keyword(session, c, request.path_params["id"])
        row = await own_filter(session, c, str(keyword.filter_id))
        await session.delete(keyword)
        await session.flush()
        rest = select(FilterKeyword.id).where(FilterKeyword.filter_id == row.id)
        statuses = select(FilterStatus.id).where(FilterStatus.filter_id == row.id)
        if await count(session, rest) == 0 and await count(session, statuses) == 0:
            await session.delete(row)
        events.filters_changed(session, c.account.id)
    return ok()


routes: list[BaseRoute] = [
    Route("/api/v1/filters", index, methods=["GET"]),
    Route("/api/v1/filters", create, methods=["POST"]),
    Route("/api/v1/filters/{id}", show, methods=["GET"]),
    Route("/api/v1/filters/{id}", update, methods=["PUT", "PATCH"]),
    Route("/api/v1/filters/{id}", destroy, methods=["DELETE"]),
]
