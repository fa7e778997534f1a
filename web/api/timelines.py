"""Timelines: home (from the fanned-out feed), public, hashtag, list and the legacy direct one.

Every timeline is one query for a page of status rows, newest first, then one batched
serialisation. Statuses of accounts the reader blocks, is blocked by or mutes never show,
neither as posts nor as the originals of boosts.
"""

from __future__ import annotations

import functools
import html
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    CompoundSelect,
    Select,
    and_,
    bindparam,
    exists,
    false,
    or_,
    select,
    true,
    union,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import BindParameter
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from federation import values
from federation.values import InvalidValue
from models.base import UTCDateTime, utcnow
from models.personal import domain_blocked_accounts
from models.relationship import mute_in_force
from models.tables import (
    Account,
    Block,
    FeedEntry,
    Follow,
    List,
    ListAccount,
    MediaAttachment,
    Mention,
    Mute,
    Status,
    StatusTag,
    Tag,
)
from models.visibility import not_held, visible_to
from web.api import filtering, serializers
from web.api.base import Call, Cursor, Page, call, page_of, paginated
from web.api.errors import not_found, validation
from web.api.hosts import hidden_domains, status_admitted
from web.api.params import parse_id
from web.node import node_of

# Pages of statuses select the pagination cursor first, then the status.
StatusQuery = Select[int, Status]
CURSOR = "page_cursor"  # the label of a page's cursor column when it is not the status id
STATUSES_PAGE = 20
STATUSES_MAX = 40

# A viewer and a point in time: values, or bind parameters in statements built once.
# Or the viewer column of feed entries, to check several viewers in one statement
# (web.status_events).
Viewer = int | BindParameter[int] | ColumnElement[int]
Instant = datetime | BindParameter[datetime]
# One alias for every query: SQLAlchemy adapts a new alias's columns anew, ~1 ms of CPU.
_ORIGINAL = aliased(Status)


def hidden_authors(viewer_id: Viewer, now: Instant | None = None) -> CompoundSelect[int]:
    """Accounts whose posts the viewer never sees in timelines: blocked either way, muted
    (a mute with a duration counts until `now`, by default the time the query is built), or
    on a node the viewer blocked."""
    muting = (
        mute_in_force() if now is None else or_(Mute.expires_at.is_(None), Mute.expires_at > now)
    )
    return union(
        select(Block.target_account_id).where(Block.account_id == viewer_id),
        select(Block.account_id).where(Block.target_account_id == viewer_id),
        select(Mute.target_account_id).where(Mute.account_id == viewer_id, muting),
        domain_blocked_accounts(viewer_id),
    )


def shown_to(viewer_id: Viewer | None, now: Instant | None = None) -> ColumnElement[bool]:
    """Neither the status nor, for a boost, its original comes from a hidden account."""
    if viewer_id is None:
        return true()
    hidden = hidden_authors(viewer_id, now)
    # Per boost one primary-key look-up of its original's author; plain posts skip it.
    original_author = (
        select(_ORIGINAL.account_id).where(_ORIGINAL.id == Status.reblog_of_id).scalar_subquery()
    )
    return and_(
        Status.account_id.not_in(hidden),
        or_(Status.reblog_of_id.is_(None), original_author.not_in(hidden)),
    )


def with_media() -> ColumnElement[bool]:
    return exists(select(MediaAttachment.id).where(MediaAttachment.status_id == Status.id))


def not_a_reply_to_others() -> ColumnElement[bool]:
    """Threads by one author stay; replies to someone else are conversation, not broadcast."""
    return or_(Status.in_reply_to_id.is_(None), Status.in_reply_to_account_id == Status.account_id)


async def statuses_page(c: Call, query: StatusQuery, cursor: Cursor) -> Response:
    """Answer one page of `query` (which selects the cursor, then the Status) with Link paging;
    posts of hosts the allowlist no longer admits are left out.

    The page is read as Core rows of the status columns, which the serializers present
    without building ORM objects, plus the cursor (the status id in timelines; the bookmark
    or favourite id in those lists, which page by when a status was saved)."""
    page = page_of(c.params, STATUSES_PAGE, STATUSES_MAX)
    query = query.where(status_admitted(await hidden_domains(c.node)))
    columns = query.with_only_columns(*serializers.STATUS_COLUMNS, cursor.label(CURSOR))
    return await answer_page(c, page, page.apply(columns, cursor), {})


async def answer_page(
    c: Call,
    page: Page,
    statement: Select[Any],
    params: dict[str, Any],
    session: AsyncSession | None = None,
) -> Response:
    """Run a page statement that selects the status columns and answer it, presented (in
    `session` if given, else in a session of its own)."""
    if session is None:
        async with c.node.db.read() as own_session:
            return await answer_page(c, page, statement, params, own_session)
    connection = await session.connection()
    rows = page.settle((await connection.execute(statement, params)).all())
    items = await serializers.statuses(session, c.node.links(), rows, c.viewer_id)
    return paginated(c, items, [row._mapping.get(CURSOR, row.id) for row in rows])


# --- home --------------------------------------------------------------------------------


def exclusive_list_members(viewer_id: Viewer) -> Select[int]:
    """Accounts the viewer reads only in an exclusive list, not at home."""
    return (
        select(ListAccount.account_id)
        .join(List, List.id == ListAccount.list_id)
        .where(List.account_id == viewer_id, List.exclusive.is_(True))
    )


def home_query(viewer_id: Viewer, now: Instant | None = None) -> StatusQuery:
    """One range scan on the viewer's feed entries, joined to the statuses still there."""
    return (
        select(FeedEntry.status_id, Status)
        .join(Status, Status.id == FeedEntry.status_id)
        .where(
            FeedEntry.account_id == viewer_id,
            shown_to(viewer_id, now),
            or_(
                Status.account_id == viewer_id,
                Status.account_id.not_in(exclusive_list_members(viewer_id)),
            ),
        )
    )


@functools.cache
def home_page_statement(max_id: bool, since_id: bool, min_id: bool) -> Select[Any]:
    """The home page statement for a combination of cursors, built once with bind parameters
    (viewer, now, max_id, since_id, min_id, limit, offset): the hottest read of the API then
    costs SQLAlchemy neither building nor a cache key, only binding."""
    cursor = FeedEntry.status_id
    query = home_query(
        bindparam("viewer", type_=BigInteger), bindparam("now", type_=UTCDateTime)
    ).with_only_columns(*serializers.STATUS_COLUMNS)
    if max_id:
        query = query.where(cursor < bindparam("max_id", type_=BigInteger))
    if since_id:
        query = query.where(cursor > bindparam("since_id", type_=BigInteger))
    if min_id:
        query = query.where(cursor > bindparam("min_id", type_=BigInteger))
    query = query.order_by(cursor.asc() if min_id else cursor.desc())
    return query.limit(bindparam("limit", type_=BigInteger)).offset(
        bindparam("offset", type_=BigInteger)
    )


async def home(request: Request) -> Response:
    # The hottest read of the API: the token and the page share one pooled session.
    db = node_of(request).db
    async with db.read() as session:
        if not db.is_sqlite:
            # Its statements need no common snapshot, so no transaction: autocommit saves
            # the BEGIN and ROLLBACK round trips. (Not on SQLite, whose engine emits its own
            # BEGIN, which autocommit would leave open.)
            await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        c = await call(request, "read:statuses", session=session)
        page = page_of(c.params, STATUSES_PAGE, STATUSES_MAX)
        cursors = {"max_id": page.max_id, "since_id": page.since_id, "min_id": page.min_id}
        statement = home_page_statement(*(value is not None for value in cursors.values()))
        hidden = await hidden_domains(c.node)
        if hidden:
            statement = statement.where(status_admitted(hidden))
        params = {
            "viewer": c.account.id,
            "now": utcnow(),
            "limit": page.limit,
            "offset": page.offset,
        }
        params.update((key, value) for key, value in cursors.items() if value is not None)
        answer = await answer_page(c, page, statement, params, session)
    return await filtering.page(c, "home", answer)


# --- public and hashtag ------------------------------------------------------------------


def broadcast_query(c: Call) -> StatusQuery:
    """What the public and hashtag timelines share: original public posts (and, for people
    signed in here, local-only ones), filtered by local/remote/only_media."""
    local, remote = c.params.flag("local"), c.params.flag("remote")
    # As in Mastodon, asking for both local and remote is asking for neither filter.
    local_only, remote_only = local and not remote, remote and not local
    visibilities = ["public"]
    if c.viewer_id is not None and not remote_only:
        visibilities.append("local")
    query = select(Status.id, Status).where(
        Status.visibility.in_(visibilities),
        Status.reblog_of_id.is_(None),
        not_held(c.viewer_id),
        shown_to(c.viewer_id),
    )
    if local_only:
        query = query.where(Status.local.is_(True))
    elif remote_only:
        query = query.where(Status.local.is_(False))
    if c.params.flag("only_media"):
        query = query.where(with_media())
    return query.where(not_silenced(c.viewer_id))


def not_silenced(viewer_id: int | None) -> ColumnElement[bool]:
    """A silenced (moderated) account's posts stay out of public timelines, except for
    the account itself and those who follow it, as on Mastodon."""
    silenced = select(Account.id).where(Account.silenced_at.is_not(None))
    shown = Status.account_id.not_in(silenced)
    if viewer_id is None:
        return shown
    followed = select(Follow.target_account_id).where(Follow.account_id == viewer_id)
    return or_(shown, Status.account_id == viewer_id, Status.account_id.in_(followed))


async def public(request: Request) -> Response:
    c = await call(request, "read:statuses", optional=True)
    query = broadcast_query(c).where(not_a_reply_to_others())
    return await filtering.page(c, "public", await statuses_page(c, query, Status.id))


async def link(request: Request) -> Response:
    """Public posts that link to `url` (Mastodon 4.3). Mastodon lists the posts of a trending
    preview card; this node keeps no cards, so it lists the posts whose text links to exactly
    that URL, with the public timeline's visibility rules."""
    c = await call(request, "read:statuses", optional=True)
    raw = c.params.raw("url")
    if not raw:
        raise validation("url is required")
    try:
        values.http_url(raw)
    except InvalidValue as refused:
        raise validation(f"url: {refused}") from None
    # Content is stored rendered; every link it carries is an `href="…"` with the URL
    # HTML-escaped (outbox.content, and incoming HTML is re-serialised when sanitised).
    href = f'href="{html.escape(raw, quote=True)}"'
    query = broadcast_query(c).where(Status.content.contains(href, autoescape=True))
    return await filtering.page(c, "public", await statuses_page(c, query, Status.id))


def tag_names(names: list[str]) -> set[str]:
    return {name.strip().lstrip("#").lower() for name in names if name.strip().lstrip("#")}


async def tag_ids(c: Call, names: set[str]) -> dict[str, int]:
    if not names:
        return {}
    async with c.node.db.read() as session:
        rows = await session.execute(select(Tag.name, Tag.id).where(Tag.name.in_(names)))
        return {name: tag_id for name, tag_id in rows}


def tagged(tag_ids: list[int]) -> ColumnElement[bool]:
    return exists(
        select(StatusTag.status_id).where(
            StatusTag.status_id == Status.id, StatusTag.tag_id.in_(tag_ids)
        )
    )


async def hashtag(request: Request) -> Response:
    c = await call(request, "read:statuses", optional=True)
    any_names = tag_names([request.path_params["hashtag"], *c.params.strings("any")])
    all_names = tag_names(c.params.strings("all"))
    none_names = tag_names(c.params.strings("none"))
    known = await tag_ids(c, any_names | all_names | none_names)
    query = broadcast_query(c)
    any_ids = [known[n] for n in any_names if n in known]
    query = query.where(tagged(any_ids)) if any_ids else query.where(false())
    for name in all_names:
        query = query.where(tagged([known[name]])) if name in known else query.where(false())
    none_ids = [known[n] for n in none_names if n in known]
    if none_ids:
        query = query.where(~tagged(none_ids))
    return await filtering.page(c, "public", await statuses_page(c, query, Status.id))


# --- list and direct ---------------------------------------------------------------------


def replies_allowed(lst: List, members: Select[int]) -> ColumnElement[bool]:
    """A list's replies policy: replies to list members, to anyone followed, or to nobody."""
    own_thread = or_(
        Status.in_reply_to_id.is_(None), Status.in_reply_to_account_id == Status.account_id
    )
    if lst.replies_policy == "list":
        return or_(own_thread, Status.in_reply_to_account_id.in_(members))
    if lst.replies_policy == "followed":
        followed = select(Follow.target_account_id).where(Follow.account_id == lst.account_id)
        return or_(
            own_thread,
            Status.in_reply_to_account_id == lst.account_id,
            Status.in_reply_to_account_id.in_(followed),
        )
    return own_thread


async def list_timeline(request: Request) -> Response:
    c = await call(request, "read:lists")
    list_id = parse_id(request.path_params["list_id"])
    async with c.node.db.read() as session:
        lst = await session.get(List, list_id)
    if lst is None or lst.account_id != c.account.id:
        raise not_found()
    members = select(ListAccount.account_id).where(ListAccount.list_id == lst.id)
    query = select(Status.id, Status).where(
        Status.account_id.in_(members),
        visible_to(c.account.id),
        shown_to(c.account.id),
        replies_allowed(lst, members),
    )
    return await filtering.page(c, "home", await statuses_page(c, query, Status.id))


async def direct(request: Request) -> Response:
    c = await call(request, "read:statuses")
    viewer = c.account.id
    mentioned = exists(
        select(Mention.status_id).where(
            Mention.status_id == Status.id, Mention.account_id == viewer
        )
    )
    query = select(Status.id, Status).where(
        Status.visibility == "direct",
        or_(Status.account_id == viewer, mentioned),
        not_held(viewer),
        shown_to(viewer),
    )
    return await statuses_page(c, query, Status.id)


routes: list[BaseRoute] = [
    Route("/api/v1/timelines/home", home, methods=["GET"]),
    Route("/api/v1/timelines/public", public, methods=["GET"]),
    Route("/api/v1/timelines/tag/{hashtag}", hashtag, methods=["GET"]),
    Route("/api/v1/timelines/list/{list_id}", list_timeline, methods=["GET"]),
    Route("/api/v1/timelines/direct", direct, methods=["GET"]),
    Route("/api/v1/timelines/link", link, methods=["GET"]),
]
