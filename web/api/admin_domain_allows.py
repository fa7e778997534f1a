"""Mastodon's `/api/v1/admin/domain_allows`, backed by the allowlist: list, show, create,
delete. Scopes `admin:read:domain_allows` / `admin:write:domain_allows`, permission
`manage_allowlist`. A change goes through outbox.allowlist's `allow`/`disallow`, as on
/admin/federation and `flurfunk allowlist`, so the allowlist's audit log names who made it;
this process re-reads the allowlist at once (the others within seconds).

`domain` takes what the allowlist takes — `host`, `host:port`, `*.suffix` — so the entity's
`domain` is the pattern as stored.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from federation.allowlist import PatternError
from models.federation import AllowlistEntry
from outbox.allowlist import allow, disallow, normalise
from outbox.permissions import AdminError, Operator, require
from web.api.base import Call, call, ok, page_of, paginated
from web.api.errors import not_found, validation
from web.api.params import parse_id
from web.api.roles import operator, refused
from web.api.serializers import iso

HERE = "/api/v1/admin/domain_allows"
READ, WRITE = "admin:read:domain_allows", "admin:write:domain_allows"
PAGE, PAGE_MAX = 100, 200


async def _keeper(c: Call) -> Operator:
    who = await operator(c)
    try:
        require(who, "manage_allowlist")
    except AdminError as exc:
        raise refused(exc) from None
    return who


def present(entry: AllowlistEntry) -> dict[str, Any]:
    return {"id": str(entry.id), "domain": entry.pattern, "created_at": iso(entry.created_at)}


async def listing(request: Request) -> Response:
    c = await call(request, READ)
    await _keeper(c)
    page = page_of(c.params, PAGE, PAGE_MAX)
    async with c.node.db.read() as session:
        query = page.apply(select(AllowlistEntry), AllowlistEntry.id)
        rows = page.settle(list((await session.scalars(query)).all()))
    return paginated(c, [present(e) for e in rows], [e.id for e in rows])


async def show(request: Request) -> Response:
    c = await call(request, READ)
    await _keeper(c)
    async with c.node.db.read() as session:
        entry = await session.get(AllowlistEntry, parse_id(request.path_params["id"]))
        if entry is None:
            raise not_found()
        return ok(present(entry))


async def _refresh(c: Call) -> None:
    if c.node.federation is not None:
        await c.node.federation.allowlist.refresh()  # this process at once


async def create(request: Request) -> Response:
    """A pattern already allowed answers the existing entry, as Mastodon does."""
    c = await call(request, WRITE)
    who = await _keeper(c)
    raw = c.params.text("domain", "", max_length=255) or ""
    if not raw.strip():
        raise validation("domain is missing")
    try:
        pattern = normalise(raw)
    except PatternError as exc:
        raise validation(str(exc)) from None
    async with c.node.db.write() as session:
        changed = await allow(session, who, pattern)
        entry = await session.scalar(
            select(AllowlistEntry).where(AllowlistEntry.pattern == pattern)
        )
        assert entry is not None  # added just now or there before, in this transaction
        answer = present(entry)
    if changed:
        await _refresh(c)
    return ok(answer)


async def remove(request: Request) -> Response:
    c = await call(request, WRITE)
    who = await _keeper(c)
    async with c.node.db.write() as session:
        entry = await session.get(
            AllowlistEntry, parse_id(request.path_params["id"]), with_for_update=True
        )
        if entry is None:
            raise not_found()
        await disallow(session, who, entry.pattern)
    await _refresh(c)
    return ok({})


routes: list[BaseRoute] = [
    Route(HERE, listing, methods=["GET"]),
    Route(HERE, create, methods=["POST"]),
    Route(HERE + "/{id}", show, methods=["GET"]),
    Route(HERE + "/{id}", remove, methods=["DELETE"]),
]
