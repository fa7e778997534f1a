"""Everything a page of statuses needs besides its own rows, in as few statements as possible.

A timeline page costs, whatever its length: the originals of its boosts (only when it has
boosts), one UNION ALL that answers at once which statuses have media, mentions, tags or a
poll and which ones the viewer favourited, bookmarked, pinned or boosted (carrying the
mentioned account ids and the tag names along), one query for every account the page shows,
and the details of media and polls only when some status has them. All of it is Core: rows,
not ORM objects, and only the columns the API shows (an account's private key stays put).

Inside a write transaction an object the session already holds wins over its row, exactly as
an ORM query would have returned it (a counter bumped but not yet flushed shows as bumped).
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    CompoundSelect,
    Integer,
    Row,
    Select,
    String,
    any_,
    bindparam,
    cast,
    inspect,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from models.account import Account
from models.interaction import Bookmark, Favourite, Pin
from models.oauth import OAuthApp
from models.personal import ConversationMute
from models.poll import Poll
from models.preview_card import PreviewCard
from models.status import MediaAttachment, Mention, Status, StatusTag, Tag
from outbox.polls import own_votes
from web.api.serializers.entities import AccountFields, MediaFields, PollFields, TagRef, poll

StatusFields = Status | Row[Any]

_accounts = Account.__table__.c
ACCOUNT_COLUMNS = tuple(
    _accounts[name]
    for name in (
        "id",
        "username",
        "domain",
        "display_name",
        "note",
        "fields",
        "avatar_path",
        "header_path",
        "avatar_remote_url",
        "header_remote_url",
        "locked",
        "bot",
        "group",
        "discoverable",
        "created_at",
        "last_status_at",
        "statuses_count",
        "followers_count",
        "following_count",
        "uri",
        "url",
        "sensitized_at",
    )
)
STATUS_COLUMNS = tuple(Status.__table__.c)
MEDIA_COLUMNS = tuple(MediaAttachment.__table__.c)
POLL_COLUMNS = tuple(Poll.__table__.c)
CARD_COLUMNS = tuple(PreviewCard.__table__.c)
APP_COLUMNS = (OAuthApp.__table__.c.id, OAuthApp.__table__.c.name, OAuthApp.__table__.c.website)

# Kinds of rows in the facts query: the viewer's marks first, then what statuses carry.
FAVOURITED, BOOKMARKED, PINNED, REBLOGGED, MEDIA, MENTION, TAG, POLL, CARD = range(9)
MUTED = 9  # only in `for_viewers`: thread roots a viewer muted

_VIEWER = bindparam("viewer", type_=BigInteger)
_NO_REF = cast(null(), BigInteger)
_NO_NAME = cast(null(), String)


_HasClause = ColumnElement[Any] | InstrumentedAttribute[Any]


def _kind(kind: int) -> Any:
    return literal_column(str(kind), Integer).label("kind")


def _among(column: _HasClause, postgres: bool) -> ColumnElement[bool]:
    """`column` is one of the bound `ids`: `= ANY(array)` on PostgreSQL (one parameter, so the
    statement's text is the same for every page), an expanding IN on SQLite."""
    if postgres:
        return column == any_(bindparam("ids", type_=postgresql.ARRAY(BigInteger)))
    return column.in_(bindparam("ids", expanding=True))


def _carried(postgres: bool) -> list[Any]:
    """What every status may carry, keyed by status id: (kind, status_id, ref, name)."""
    return [
        select(_kind(MEDIA), MediaAttachment.status_id, MediaAttachment.id, _NO_NAME).where(
            _among(MediaAttachment.status_id, postgres)
        ),
        select(_kind(MENTION), Mention.status_id, Mention.account_id, _NO_NAME).where(
            _among(Mention.status_id, postgres)
        ),
        select(_kind(TAG), StatusTag.status_id, Tag.id, Tag.name)
        .join(Tag, Tag.id == StatusTag.tag_id)
        .where(_among(StatusTag.status_id, postgres)),
        select(_kind(POLL), Poll.status_id, Poll.id, _NO_NAME).where(
            _among(Poll.status_id, postgres)
        ),
        select(_kind(CARD), PreviewCard.status_id, PreviewCard.id, _NO_NAME).where(
            _among(PreviewCard.status_id, postgres), PreviewCard.fetched_at.is_not(None)
        ),
    ]


def _marks(postgres: bool) -> list[Any]:
    """The viewer's favourites, bookmarks, pins and boosts among the statuses."""
    kinds: list[Any] = [
        select(_kind(kind), model.status_id, _NO_REF, _NO_NAME).where(
            model.account_id == _VIEWER, _among(model.status_id, postgres)
        )
        for kind, model in ((FAVOURITED, Favourite), (BOOKMARKED, Bookmark), (PINNED, Pin))
    ]
    kinds.append(
        select(_kind(REBLOGGED), Status.reblog_of_id, _NO_REF, _NO_NAME).where(
            Status.account_id == _VIEWER, _among(Status.reblog_of_id, postgres)
        )
    )
    return kinds


# Statements are built once per database kind (SQLAlchemy then reuses their cache keys and
# compiled forms); a page only binds its ids and the viewer.
@functools.cache
def facts_statement(postgres: bool, with_viewer: bool) -> CompoundSelect[Any]:
    marks = _marks(postgres) if with_viewer else []
    return union_all(*marks, *_carried(postgres))


@functools.cache
def _by_id_statement(model: Any, columns: tuple[Any, ...], postgres: bool) -> Select[Any]:
    return select(*columns).where(_among(model.__table__.c.id, postgres))


@dataclass
class PageFacts:
    originals: dict[int, StatusFields] = field(default_factory=dict)
    accounts: dict[int, AccountFields] = field(default_factory=dict)
    media: dict[int, list[MediaFields]] = field(default_factory=dict)
    mentions: dict[int, list[int]] = field(default_factory=dict)  # status -> account ids
    tags: dict[int, list[TagRef]] = field(default_factory=dict)
    polls: dict[int, dict[str, Any]] = field(default_factory=dict)  # presented, by status
    cards: dict[int, Any] = field(default_factory=dict)  # link previews, by status
    apps: dict[int, Row[Any]] = field(default_factory=dict)
    marks: tuple[set[int], set[int], set[int], set[int]] = field(
        default_factory=lambda: (set(), set(), set(), set())
    )
    muted_threads: set[int] = field(default_factory=set)  # thread roots the viewer muted
    poll_rows: dict[int, PollFields] = field(default_factory=dict)  # by poll id


@dataclass(frozen=True)
class JustWritten:
    """What one status written in this very transaction carries, as its writer knows it: the
    page needs no reading of it back, and nobody can have favourited, bookmarked, pinned or
    boosted it yet, nor muted the thread it starts. A new status has no fetched link preview."""

    media_ids: list[int]
    mentions: list[int]  # account ids
    tags: list[TagRef]
    poll_id: int | None


def _live(session: AsyncSession, model: Any, rows: Iterable[Row[Any]]) -> list[Any]:
    """Rows, each replaced by the session's own object for it if the session holds one
    whose attributes are all loaded (an expired one would need a lazy load, not possible
    under asyncio; its row is as fresh)."""
    held: dict[int, Any] = {}
    for obj in session.identity_map.values():
        state = inspect(obj)
        if state.class_ is model and state.identity and not state.expired_attributes:
            held[state.identity[0]] = obj
    if not held:
        return list(rows)
    return [held.get(row.id, row) for row in rows]


async def _by_id(
    session: AsyncSession,
    conn: AsyncConnection,
    model: Any,
    columns: tuple[Any, ...],
    ids: Collection[int],
) -> dict[int, Any]:
    if not ids:
        return {}
    statement = _by_id_statement(model, columns, conn.dialect.name == "postgresql")
    rows = await conn.execute(statement, {"ids": list(ids)})
    return {row.id: row for row in _live(session, model, rows)}


async def load(
    session: AsyncSession,
    rows: Sequence[StatusFields],
    viewer_id: int | None,
    *,
    every_app: bool = False,
    written: JustWritten | None = None,
) -> PageFacts:
    """What the page needs for `viewer_id`; `every_app`: the applications of all local
    statuses, not just the viewer's own (a page shared by several viewers, see `for_viewers`).
    `written`: the page is the one status (not a boost) just written in this transaction, and
    this is what it carries."""
    facts = PageFacts()
    if not rows:
        return facts
    conn = await session.connection()
    boosted = {s.reblog_of_id for s in rows if s.reblog_of_id is not None}
    facts.originals = await _by_id(session, conn, Status, STATUS_COLUMNS, boosted)
    everything = [*rows, *facts.originals.values()]
    ids = list({s.id for s in everything})

    found: Iterable[Row[Any]] | list[tuple[int, int, int, str | None]]
    if written is None:
        statement = facts_statement(conn.dialect.name == "postgresql", viewer_id is not None)
        found = await conn.execute(statement, {"ids": ids, "viewer": viewer_id})
    else:
        (status_id,) = ids
        found = [
            *((MEDIA, status_id, i, None) for i in written.media_ids),
            *((MENTION, status_id, i, None) for i in written.mentions),
            *((TAG, status_id, t.id, t.name) for t in written.tags),
            *([(POLL, status_id, written.poll_id, None)] if written.poll_id is not None else []),
        ]
    media_ids: list[int] = []
    poll_ids: list[int] = []
    card_ids: list[int] = []
    mentioned: set[int] = set()
    for kind, status_id, ref, name in sorted(found, key=lambda r: (r[0], r[1], r[2] or 0)):
        if kind < MEDIA:
            if status_id is not None:
                facts.marks[kind].add(status_id)
        elif kind == MEDIA:
            media_ids.append(ref)
        elif kind == MENTION:
            facts.mentions.setdefault(status_id, []).append(ref)
            mentioned.add(ref)
        elif kind == TAG:
            facts.tags.setdefault(status_id, []).append(TagRef(ref, name))
        elif kind == POLL:
            poll_ids.append(ref)
        else:
            card_ids.append(ref)

    authors = {s.account_id for s in everything}
    facts.accounts = await _by_id(session, conn, Account, ACCOUNT_COLUMNS, authors | mentioned)
    if media_ids:
        attachments = await _by_id(session, conn, MediaAttachment, MEDIA_COLUMNS, media_ids)
        for media_id in sorted(attachments):
            m = attachments[media_id]
            facts.media.setdefault(m.status_id or 0, []).append(m)
    if poll_ids:
        facts.poll_rows = await _by_id(session, conn, Poll, POLL_COLUMNS, poll_ids)
        facts.polls = await _polls(session, viewer_id, facts.poll_rows)
    if card_ids:
        cards = await _by_id(session, conn, PreviewCard, CARD_COLUMNS, card_ids)
        facts.cards = {c.status_id: c for c in cards.values()}
    own_apps = {
        s.application_id
        for s in everything
        if s.application_id and s.local and (every_app or s.account_id == viewer_id)
    }
    if own_apps:
        facts.apps = await _by_id(session, conn, OAuthApp, APP_COLUMNS, own_apps)
    starts_thread = written is not None and thread_of(rows[0]) == rows[0].id
    if viewer_id is not None and not starts_thread:
        facts.muted_threads = await _muted_threads(session, viewer_id, everything)
    return facts


def thread_of(s: StatusFields) -> int:
    """The root status id of `s`'s thread: its own id when it starts one."""
    return getattr(s, "thread_id", None) or s.id


async def _muted_threads(
    session: AsyncSession, viewer_id: int, rows: Iterable[StatusFields]
) -> set[int]:
    threads = {thread_of(s) for s in rows}
    found = await session.scalars(
        select(ConversationMute.thread_id).where(
            ConversationMute.account_id == viewer_id, ConversationMute.thread_id.in_(threads)
        )
    )
    return set(found)


async def _polls(
    session: AsyncSession, viewer_id: int | None, found: dict[int, PollFields]
) -> dict[int, dict[str, Any]]:
    votes = await own_votes(session, viewer_id, set(found))
    return {
        p.status_id: poll(p, votes.get(p.id, []) if viewer_id else None) for p in found.values()
    }


@functools.cache
def _viewers_marks_statement(postgres: bool) -> CompoundSelect[Any]:
    """Several viewers' favourites, bookmarks, pins and boosts among the statuses:
    (kind, viewer, status_id)."""
    viewers: Any = bindparam("viewers", expanding=True)
    kinds: list[Any] = [
        select(_kind(kind), model.account_id, model.status_id).where(
            model.account_id.in_(viewers), _among(model.status_id, postgres)
        )
        for kind, model in ((FAVOURITED, Favourite), (BOOKMARKED, Bookmark), (PINNED, Pin))
    ]
    kinds.append(
        select(_kind(REBLOGGED), Status.account_id, Status.reblog_of_id).where(
            Status.account_id.in_(viewers), _among(Status.reblog_of_id, postgres)
        )
    )
    kinds.append(
        select(_kind(MUTED), ConversationMute.account_id, ConversationMute.thread_id).where(
            ConversationMute.account_id.in_(viewers),
            ConversationMute.thread_id.in_(bindparam("threads", expanding=True)),
        )
    )
    return union_all(*kinds)


async def for_viewers(
    session: AsyncSession,
    rows: Sequence[StatusFields],
    shared: PageFacts,
    viewer_ids: Collection[int],
) -> dict[int, PageFacts]:
    """The facts of `rows` for each of several viewers, from facts loaded once without a viewer
    (`load(..., None, every_app=True)`): what differs per viewer — their marks, muted threads
    and poll votes — is read for all of them at once (polls: one query per viewer, only when
    the page has one)."""
    if not viewer_ids:
        return {}
    everything = [*rows, *shared.originals.values()]
    conn = await session.connection()
    statement = _viewers_marks_statement(conn.dialect.name == "postgresql")
    found = await conn.execute(
        statement,
        {
            "ids": list({s.id for s in everything}),
            "viewers": list(viewer_ids),
            "threads": list({thread_of(s) for s in everything}),
        },
    )
    marks: dict[int, tuple[set[int], set[int], set[int], set[int]]] = {
        v: (set(), set(), set(), set()) for v in viewer_ids
    }
    muted: dict[int, set[int]] = {v: set() for v in viewer_ids}
    for kind, viewer, status_id in found:
        if status_id is None:
            continue
        if kind == MUTED:
            muted[viewer].add(status_id)
        else:
            marks[viewer][kind].add(status_id)
    out = {}
    for v in viewer_ids:
        polls = shared.polls
        if shared.poll_rows:
            polls = await _polls(session, v, shared.poll_rows)
        out[v] = replace(shared, marks=marks[v], muted_threads=muted[v], polls=polls)
    return out
