"""The signed-in user's own collections and settings: preferences, bookmarks, favourites;
and the profile directory."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import ColumnElement, String, cast, func, or_, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from models.tables import Account, Bookmark, Favourite, Status
from web.api import serializers
from web.api.base import call, ok
from web.api.errors import validation
from web.api.hosts import account_admitted, hidden_domains
from web.api.timelines import hidden_authors, statuses_page

# What Mastodon answers for a user who never changed a setting.
DEFAULT_PREFERENCES: dict[str, Any] = {
    "posting:default:visibility": "public",
    "posting:default:sensitive": False,
    "posting:default:language": None,
    "reading:expand:media": "default",
    "reading:expand:spoilers": False,
    "reading:autoplay:gifs": False,
}
DIRECTORY_PAGE = 40
DIRECTORY_MAX = 80
DIRECTORY_QUERY_MAX = 200


async def preferences(request: Request) -> Response:
    c = await call(request, "read:accounts")
    stored = c.user.preferences or {}
    return ok({key: stored.get(key, default) for key, default in DEFAULT_PREFERENCES.items()})


async def bookmarks(request: Request) -> Response:
    """Newest bookmark first, paged by the bookmark (not the status) id, as Mastodon does."""
    c = await call(request, "read:bookmarks")
    query = (
        select(Bookmark.id, Status)
        .join(Status, Status.id == Bookmark.status_id)
        .where(Bookmark.account_id == c.account.id)
    )
    return await statuses_page(c, query, Bookmark.id)


async def favourites(request: Request) -> Response:
    c = await call(request, "read:favourites")
    query = (
        select(Favourite.id, Status)
        .join(Status, Status.id == Favourite.status_id)
        .where(Favourite.account_id == c.account.id)
    )
    return await statuses_page(c, query, Favourite.id)


def matching(words: str) -> ColumnElement[bool]:
    """Accounts whose handle, display name or a profile field (department, location, …)
    contains `words`, ignoring case. Fields are stored as JSON text, which escapes letters
    beyond ASCII, so the escaped spelling is looked for as well."""
    needle = words.lower()
    escaped = json.dumps(needle)[1:-1]
    fields = func.lower(cast(Account.fields, String))
    return or_(
        func.lower(Account.username).contains(needle, autoescape=True),
        func.lower(Account.display_name).contains(needle, autoescape=True),
        func.lower(Account.domain).contains(needle, autoescape=True),
        fields.contains(needle, autoescape=True),
        fields.contains(escaped, autoescape=True),
    )


async def directory(request: Request) -> Response:
    """Discoverable accounts of this node and of the allowed nodes it knows, recently active
    first (order=active) or newest (order=new); `q` (Flurfunk's addition) narrows them to
    those whose name or profile fields contain it."""
    c = await call(request, "read:accounts", optional=True)
    order = c.params.text("order") or "active"
    if order not in ("active", "new"):
        raise validation("order must be active or new")
    limit = c.params.number("limit", DIRECTORY_PAGE, minimum=1, maximum=DIRECTORY_MAX)
    offset = c.params.number("offset", 0, minimum=0)
    words = (c.params.text("q", max_length=DIRECTORY_QUERY_MAX) or "").strip()
    query = select(Account).where(
        Account.discoverable.is_(True),
        Account.suspended_at.is_(None),
        account_admitted(await hidden_domains(c.node)),
    )
    if words:
        query = query.where(matching(words))
    if c.params.flag("local"):
        query = query.where(Account.domain.is_(None))
    if c.viewer_id is not None:
        query = query.where(Account.id.not_in(hidden_authors(c.viewer_id)))
    if order == "new":
        query = query.order_by(Account.id.desc())
    else:
        query = query.order_by(Account.last_status_at.desc().nulls_last(), Account.id.desc())
    async with c.node.db.read() as session:
        rows = (await session.execute(query.limit(limit).offset(offset))).scalars().all()
    return ok([serializers.account(a, c.node.links()) for a in rows])


routes: list[BaseRoute] = [
    Route("/api/v1/preferences", preferences, methods=["GET"]),
    Route("/api/v1/bookmarks", bookmarks, methods=["GET"]),
    Route("/api/v1/favourites", favourites, methods=["GET"]),
    Route("/api/v1/directory", directory, methods=["GET"]),
]
