"""Search (GET /api/v2/search and the legacy /api/v1/search): accounts, hashtags, statuses.

Accounts match by handle or display-name prefix, or by every word of the query in their name,
bio or profile fields (the full-text index), the exact handle first; hashtags by name prefix (a
unique B-tree index: a tag is one word, so a prefix is all a full-text index would add);
statuses through the full-text index with operators (web/api/search_statuses.py), only among
those the caller may see, only for signed-in callers and only for a query of a few characters,
with an operator, or with an explicit `type=statuses`. A URL of this node finds the account or
status it names. With `resolve=true` (signed-in callers only), a handle of another node is
looked up via WebFinger and a URL of another node fetched (an actor, else a post) — only on
allowed hosts. What comes from hosts the allowlist no longer admits is never found.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from models.search_index import account_matches
from models.settings import Settings
from models.tables import Account, Follow, FollowedTag, Status, Tag
from models.visibility import not_blocked_either_way
from web.api import serializers
from web.api.base import Call, Page, call, ok, page_of
from web.api.errors import ApiError, validation
from web.api.hosts import account_admitted, hidden_domains
from web.api.resolve import account_by_handle, account_by_url, is_remote_handle, status_by_url
from web.api.search_query import QueryError, parse
from web.api.search_statuses import StatusSearch, find_statuses
from web.auth import scope_allows

TYPES = ("accounts", "hashtags", "statuses")
MIN_STATUS_QUERY = 3  # shorter queries search statuses only when type=statuses is asked for
MAX_QUERY = 500
TAG_NAME = re.compile(r"^\w+$")


@dataclass(frozen=True)
class Search:
    text: str
    type: str | None
    following: bool
    account_id: int | None
    page: Page
    viewer_id: int | None
    settings: Settings
    resolve: bool = False
    hidden: frozenset[str] = frozenset()

    def wants(self, kind: str) -> bool:
        return self.type is None or self.type == kind

    @property
    def is_url(self) -> bool:
        return self.text.startswith(("https://", "http://"))


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _read(c: Call) -> Search:
    if c.caller is not None and not scope_allows(c.caller.scopes, "read:search"):
        raise ApiError(403, "This action is outside the authorized scopes")
    text = (c.params.text("q", max_length=MAX_QUERY) or "").strip()
    if not text:
        raise ApiError(400, "Missing search query: q")
    kind = c.params.text("type") or None
    if kind is not None and kind not in TYPES:
        raise validation(f"type must be one of {', '.join(TYPES)}")
    page = page_of(c.params, 20, 40)
    if c.viewer_id is None:
        # As Mastodon: what could reach other nodes or page deep needs a signed-in caller.
        if c.params.flag("resolve"):
            raise ApiError(
                401,
                "Search queries that resolve remote resources are not supported without "
                "authentication",
            )
        if page.offset:
            raise ApiError(401, "Search queries pagination is not supported without authentication")
    return Search(
        text=text,
        type=kind,
        following=c.params.flag("following"),
        account_id=c.params.id("account_id"),
        page=page,
        viewer_id=c.viewer_id,
        settings=c.node.settings,
        resolve=c.params.flag("resolve"),
    )


def _handle_condition(
    search: Search, dialect: str
) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """(what matches, what matches exactly) for `name`, `@name`, `name@host`, a display name."""
    name, at, domain = search.text.lstrip("@").partition("@")
    name, domain = name.lower(), domain.lower()
    username = func.lower(Account.username)
    if at and domain and domain != search.settings.domain.lower():
        return (
            and_(
                username.like(_like_prefix(name), escape="\\"),
                func.lower(Account.domain).like(_like_prefix(domain), escape="\\"),
            ),
            and_(username == name, func.lower(Account.domain) == domain),
        )
    local = Account.domain.is_(None)
    if at:
        return and_(username.like(_like_prefix(name), escape="\\"), local), username == name
    display = func.lower(Account.display_name)
    prefix = _like_prefix(name)
    matches = or_(
        username.like(prefix, escape="\\"),
        display.like(prefix, escape="\\"),
        display.like("% " + prefix, escape="\\"),
        *_profile_words(search, dialect),
    )
    return matches, and_(username == name, local)


def _profile_words(search: Search, dialect: str) -> list[ColumnElement[bool]]:
    """Every word of the query in the name, bio or profile fields (a department, a city)."""
    try:
        terms = parse(search.text).terms
    except QueryError:
        return []  # status operators mean nothing for people
    if not terms:
        return []
    return [account_matches(dialect, terms, search.settings.default_language)]


async def _accounts(session: AsyncSession, search: Search) -> list[Account]:
    if search.is_url:
        query = select(Account).where(or_(Account.url == search.text, Account.uri == search.text))
        exact: Any = Account.id
    else:
        matches, exactly = _handle_condition(search, session.get_bind().dialect.name)
        query = select(Account).where(matches)
        exact = case((exactly, 0), else_=1)
    query = query.where(
        Account.suspended_at.is_(None),
        not_blocked_either_way(search.viewer_id, Account.id.expression),
        account_admitted(search.hidden),
    )
    if search.following and search.viewer_id is not None:
        query = query.where(
            Account.id.in_(
                select(Follow.target_account_id).where(Follow.account_id == search.viewer_id)
            )
        )
    query = query.order_by(
        exact, Account.domain.is_not(None), Account.followers_count.desc(), Account.id
    )
    query = query.limit(search.page.limit).offset(search.page.offset)
    return list((await session.execute(query)).scalars())


async def _hashtags(session: AsyncSession, search: Search) -> list[Tag]:
    name = search.text.lstrip("#").lower()
    if search.is_url or not TAG_NAME.match(name):
        return []
    query = (
        select(Tag)
        .where(Tag.name.like(_like_prefix(name), escape="\\"))
        .order_by(case((Tag.name == name, 0), else_=1), func.length(Tag.name), Tag.name)
        .limit(search.page.limit)
        .offset(search.page.offset)
    )
    return list((await session.execute(query)).scalars())


async def _statuses(session: AsyncSession, search: Search) -> list[Status]:
    if search.viewer_id is None:
        return []  # as Mastodon: no full-text search for anonymous callers
    wanted = StatusSearch(
        text=search.text,
        viewer_id=search.viewer_id,
        settings=search.settings,
        page=search.page,
        account_id=search.account_id,
        hidden=search.hidden,
    )
    try:
        return await find_statuses(
            session, wanted, type_asked=search.type == "statuses", min_words=MIN_STATUS_QUERY
        )
    except QueryError as error:
        raise validation(str(error)) from None


async def _followed_tag_ids(session: AsyncSession, viewer_id: int, tags: list[Tag]) -> set[int]:
    if not tags:
        return set()
    rows = await session.scalars(
        select(FollowedTag.tag_id).where(
            FollowedTag.account_id == viewer_id, FollowedTag.tag_id.in_([t.id for t in tags])
        )
    )
    return set(rows)


async def _resolve(c: Call, search: Search) -> None:
    """Fetch and store what a handle or URL of another node names, for the search to find."""
    if not search.resolve or search.viewer_id is None:
        return
    if search.is_url:
        if search.wants("accounts") and await account_by_url(c.node, search.text) is not None:
            return
        if search.wants("statuses"):
            await status_by_url(c.node, search.text)
    elif search.wants("accounts") and is_remote_handle(c.node, search.text):
        await account_by_handle(c.node, search.text)


async def _results(c: Call) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[Tag]]:
    search = _read(c)
    await _resolve(c, search)
    search = dataclasses.replace(search, hidden=await hidden_domains(c.node))
    links = c.node.links()
    async with c.node.db.read() as session:
        accounts = await _accounts(session, search) if search.wants("accounts") else []
        tags = await _hashtags(session, search) if search.wants("hashtags") else []
        statuses = await _statuses(session, search) if search.wants("statuses") else []
        presented = await serializers.statuses(session, links, statuses, search.viewer_id)
    return [serializers.account(a, links) for a in accounts], presented, tags


async def search_v2(request: Request) -> Response:
    c = await call(request, optional=True)
    accounts, statuses, tags = await _results(c)
    links = c.node.links()
    hashtags = [serializers.tag(t, links) for t in tags]
    if c.viewer_id is not None and tags:
        async with c.node.db.read() as session:
            followed = await _followed_tag_ids(session, c.viewer_id, tags)
        hashtags = [serializers.tag(t, links, following=t.id in followed) for t in tags]
    return ok({"accounts": accounts, "statuses": statuses, "hashtags": hashtags})


async def search_v1(request: Request) -> Response:
    """The pre-2.4.1 shape: hashtags as plain names."""
    c = await call(request, optional=True)
    accounts, statuses, tags = await _results(c)
    return ok({"accounts": accounts, "statuses": statuses, "hashtags": [t.name for t in tags]})


routes = [
    Route("/api/v2/search", search_v2),
    Route("/api/v1/search", search_v1),
]
