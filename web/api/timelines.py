"""Timelines: home (from the fanned-out feed), public, hashtag, list and the legacy direct one.

Every timeline is one query for a page of status rows, newest first, then one batched
serialisation. Statuses of accounts the reader blocks, is blocked by or mutes never show,
neither as posts nor as the originals of boosts.
"""

from __future__ import annotations

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    and_,
    exists,
    false,
    or_,
    select,
    true,
    union,
)
from sqlalchemy.orm import aliased
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from models.relationship import mute_in_force
from models.tables import (
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
from models.visibility import visible_to
from web.api import serializers
from web.api.base import Call, Cursor, call, page_of, paginated
from web.api.errors import not_found
from web.api.hosts import hidden_domains, status_admitted
from web.api.params import parse_id

# Pages of statuses select the pagination cursor first, then the status.
StatusQuery = Select[int, Status]
STATUSES_PAGE = 20
STATUSES_MAX = 40


def hidden_authors(viewer_id: int) -> CompoundSelect[int]:
    """Accounts whose posts the viewer never sees in timelines: blocked either way, or muted."""
    return union(
        select(Block.target_account_id).where(Block.account_id == viewer_id),
        select(Block.account_id).where(Block.target_account_id == viewer_id),
        select(Mute.target_account_id).where(Mute.account_id == viewer_id, mute_in_force()),
    )


def shown_to(viewer_id: int | None) -> ColumnElement[bool]:
    """Neither the status nor, for a boost, its original comes from a hidden account."""
    if viewer_id is None:
        return true()
    hidden = hidden_authors(viewer_id)
    original = aliased(Status)
    # Per boost one primary-key look-up of its original's author; plain posts skip it.
    original_author = (
        select(original.account_id).where(original.id == Status.reblog_of_id).scalar_subquery()
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
    posts of hosts the allowlist no longer admits are left out."""
    page = page_of(c.params, STATUSES_PAGE, STATUSES_MAX)
    query = query.where(status_admitted(await hidden_domains(c.node)))
    async with c.node.db.read() as session:
        rows = page.settle((await session.execute(page.apply(query, cursor))).all())
        items = await serializers.statuses(
            session, c.node.settings, [row[1] for row in rows], c.viewer_id
        )
    return paginated(c, items, [row[0] for row in rows])


# --- home --------------------------------------------------------------------------------


def exclusive_list_members(viewer_id: int) -> Select[int]:
    """Accounts the viewer reads only in an exclusive list, not at home."""
    return (
        select(ListAccount.account_id)
        .join(List, List.id == ListAccount.list_id)
        .where(List.account_id == viewer_id, List.exclusive.is_(True))
    )


def home_query(viewer_id: int) -> StatusQuery:
    """One range scan on the viewer's feed entries, joined to the statuses still there."""
    return (
        select(FeedEntry.status_id, Status)
        .join(Status, Status.id == FeedEntry.status_id)
        .where(
            FeedEntry.account_id == viewer_id,
            shown_to(viewer_id),
            or_(
                Status.account_id == viewer_id,
                Status.account_id.not_in(exclusive_list_members(viewer_id)),
            ),
        )
    )


async def home(request: Request) -> Response:
    c = await call(request, "read:statuses")
    return await statuses_page(c, home_query(c.account.id), FeedEntry.status_id)


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
        shown_to(c.viewer_id),
    )
    if local_only:
        query = query.where(Status.local.is_(True))
    elif remote_only:
        query = query.where(Status.local.is_(False))
    if c.params.flag("only_media"):
        query = query.where(with_media())
    return query


async def public(request: Request) -> Response:
    c = await call(request, "read:statuses", optional=True)
    query = broadcast_query(c).where(not_a_reply_to_others())
    return await statuses_page(c, query, Status.id)


def tag_names(names: list[str]) -> set[str]:
    return {name.strip().lstrip("#").lower() for name in names if name.strip().lstrip("#")}


async def tag_ids(c: Call, names: set[str]) -> dict[str, int]:
    if not names:
        return {}
    async with c.node.db.read() as session:
        rows = await session.execute(select(Tag.name, Tag.id).where(Tag.name.in_(names)))
        return {name: tag_id for name, tag_id in rows.tuples()}


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
    return await statuses_page(c, query, Status.id)


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
    return await statuses_page(c, query, Status.id)


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
        shown_to(viewer),
    )
    return await statuses_page(c, query, Status.id)


routes: list[BaseRoute] = [
    Route("/api/v1/timelines/home", home, methods=["GET"]),
    Route("/api/v1/timelines/public", public, methods=["GET"]),
    Route("/api/v1/timelines/tag/{hashtag}", hashtag, methods=["GET"]),
    Route("/api/v1/timelines/list/{list_id}", list_timeline, methods=["GET"]),
    Route("/api/v1/timelines/direct", direct, methods=["GET"]),
]
