"""Computing the node's trends: hashtags, posts and links that many people use right now.

Trends cover everything this node has seen — its own posts and those its inbox kept from
other nodes — but only public posts (visible to everyone), by accounts that are neither
suspended nor on a host the allowlist no longer admits. Items rank by how many distinct
accounts used them in the last RECENT_DAYS, never by how many posts: one person repeating a
hashtag does not make it trend. Each kind is one query over the last HISTORY_DAYS; the result
(at most TOP items per kind) replaces the `trends` table in one transaction.

The job runs at start and then every TRENDS_INTERVAL seconds in every process that runs
periodic jobs; `trend_runs` makes one of them compute per interval, so a node computes its
trends once however many web processes and workers it has.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Select, delete, func, select, union_all, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from federation.allowlist import Allowlist, PatternError, split_host_port
from models.account import Account
from models.base import utcnow
from models.discovery import TrendItem, TrendRun
from models.ids import id_for_time
from models.interaction import Favourite
from models.status import Mention, Status, StatusTag, Tag
from outbox.context import Federation

log = logging.getLogger("flurfunk.trends")
HISTORY_DAYS = 7
RECENT_DAYS = 2
TOP = 60
RUN_ROW = 1
# A run counts as due slightly early, so that a timer firing a little soon skips no interval.
DUE_SLACK = 0.9
_HREF = re.compile(r"""<a\s[^>]*?href\s*=\s*["']([^"']+)["']""", re.IGNORECASE)


@dataclass
class _Tally:
    """Uses and distinct accounts of one item, per day."""

    label: str = ""
    uses: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    accounts: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))

    def add(self, day: str, account_id: int, uses: int = 1) -> None:
        self.uses[day] += uses
        self.accounts[day].add(account_id)

    def recent_accounts(self, days: Iterable[str]) -> int:
        return len(set().union(*(self.accounts.get(d, set()) for d in days)))


def link_id(url: str) -> int:
    """A stable positive 63-bit id for a link, so that admins and apps can name it."""
    return int.from_bytes(hashlib.sha256(url.encode()).digest()[:8], "big") >> 1


def _day(value: Any) -> str:
    return str(value)[:10]


def _days(today: datetime, count: int) -> list[str]:
    return [(today - timedelta(days=n)).date().isoformat() for n in range(count)]


async def refused_domains(session: AsyncSession, allowlist: Allowlist) -> list[str]:
    """Domains of known remote accounts that the allowlist does not admit now."""
    rows = await session.execute(
        select(Account.domain, func.min(Account.uri))
        .where(Account.domain.is_not(None))
        .group_by(Account.domain)
    )
    refused: list[str] = []
    for domain, uri in rows:
        if not domain:
            continue
        if uri:
            allowed = allowlist.allows_url(uri)
        else:
            try:
                allowed = allowlist.allows(*split_host_port(domain))
            except PatternError:
                allowed = False
        if not allowed:
            refused.append(domain)
    return refused


def _first_id(since: datetime) -> int:
    """The smallest row id made at or after `since`: ids are time-ordered, so a window by id
    reads an index range (statuses: visibility, id) instead of every row."""
    return id_for_time(int(since.timestamp() * 1000))


def _public_posts(since: datetime, refused: list[str]) -> Any:
    """The condition on Status for posts that may trend (seen here, and written, since)."""
    excluded = select(Account.id).where(
        Account.suspended_at.is_not(None) | Account.domain.in_(refused)
    )
    return (
        (Status.visibility == "public")
        & Status.held.is_(False)
        & (Status.id >= _first_id(since))
        & Status.reblog_of_id.is_(None)
        & (Status.created_at >= since)
        & Status.account_id.not_in(excluded)
    )


async def _tags(session: AsyncSession, since: datetime, refused: list[str]) -> dict[int, _Tally]:
    day = func.date(Status.created_at)
    query = (
        select(StatusTag.tag_id, Tag.name, day, Status.account_id, func.count())
        .join(Status, Status.id == StatusTag.status_id)
        .join(Tag, Tag.id == StatusTag.tag_id)
        .where(_public_posts(since, refused))
        .group_by(StatusTag.tag_id, Tag.name, day, Status.account_id)
    )
    tallies: dict[int, _Tally] = defaultdict(_Tally)
    for tag_id, name, on, account_id, uses in await session.execute(query):
        tallies[tag_id].label = name
        tallies[tag_id].add(_day(on), account_id, uses)
    return tallies


async def _statuses(
    session: AsyncSession, since: datetime, refused: list[str]
) -> dict[int, _Tally]:
    """Posts by how many distinct accounts favourited or boosted them."""
    boosts = (
        select(Status.reblog_of_id.label("status_id"), Status.account_id, Status.created_at)
        .where(Status.id >= _first_id(since), Status.reblog_of_id.is_not(None))
        .subquery()
    )
    reactions = union_all(
        select(Favourite.status_id, Favourite.account_id, Favourite.created_at).where(
            Favourite.id >= _first_id(since)
        ),
        select(boosts.c.status_id, boosts.c.account_id, boosts.c.created_at),
    ).subquery()
    day = func.date(reactions.c.created_at)
    excluded_authors = select(Account.id).where(Account.discoverable.is_(False))
    query: Select[Any] = (
        select(reactions.c.status_id, day, reactions.c.account_id, func.count())
        .join(Status, Status.id == reactions.c.status_id)
        .where(_public_posts(since, refused), Status.account_id.not_in(excluded_authors))
        .group_by(reactions.c.status_id, day, reactions.c.account_id)
    )
    tallies: dict[int, _Tally] = defaultdict(_Tally)
    for status_id, on, account_id, uses in await session.execute(query):
        tallies[status_id].add(_day(on), account_id, uses)
    return tallies


def _shared_links(content: str, skip: set[str]) -> set[str]:
    links = set()
    for raw in _HREF.findall(content):
        url = unescape(raw).strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            continue
        if url in skip or parts.path.startswith("/tags/"):
            continue  # a mention or a hashtag, not a shared link
        links.add(url)
    return links


async def _links(session: AsyncSession, since: datetime, refused: list[str]) -> dict[int, _Tally]:
    """Links in posts, by how many distinct accounts shared them. HTML holds the links, so
    the posts that have one are read and their anchors counted here."""
    mentioned = func.coalesce(Account.url, Account.uri)
    query = (
        select(Status.id, Status.account_id, Status.created_at, Status.content, mentioned)
        .outerjoin(Mention, Mention.status_id == Status.id)
        .outerjoin(Account, Account.id == Mention.account_id)
        .where(_public_posts(since, refused), Status.content.like("%href%"))
    )
    posts: dict[int, tuple[int, datetime, str]] = {}
    skip: dict[int, set[str]] = defaultdict(set)
    for status_id, account_id, created_at, content, mention_url in await session.execute(query):
        posts[status_id] = (account_id, created_at, content)
        if mention_url:
            skip[status_id].add(mention_url)
    tallies: dict[int, _Tally] = defaultdict(_Tally)
    for status_id, (account_id, created_at, content) in posts.items():
        for url in _shared_links(content, skip[status_id]):
            tally = tallies[link_id(url)]
            tally.label = url
            tally.add(_day(created_at.date()), account_id)
    return tallies


def _items(kind: str, tallies: dict[int, _Tally], today: datetime) -> list[TrendItem]:
    history_days = _days(today, HISTORY_DAYS)
    recent = history_days[:RECENT_DAYS]
    scored = []
    for item_id, tally in tallies.items():
        accounts = tally.recent_accounts(recent)
        if accounts:
            uses = sum(tally.uses.get(d, 0) for d in recent)
            scored.append((accounts, uses, item_id, tally))
    scored.sort(key=lambda s: (-s[0], -s[1], -s[2]))
    items = []
    for rank, (accounts, uses, item_id, tally) in enumerate(scored[:TOP]):
        history = [
            {
                "day": int(datetime.fromisoformat(d).replace(tzinfo=UTC).timestamp()),
                "uses": tally.uses.get(d, 0),
                "accounts": len(tally.accounts.get(d, ())),
            }
            for d in history_days
        ]
        items.append(
            TrendItem(
                kind=kind,
                item_id=item_id,
                label=tally.label,
                rank=rank,
                accounts=accounts,
                uses=uses,
                history=history,
                computed_at=today,
            )
        )
    return items


async def measure(
    session: AsyncSession, allowlist: Allowlist, now: datetime | None = None
) -> list[TrendItem]:
    """What trends now: at most TOP items of each kind, best first."""
    now = now or utcnow()
    since = datetime.combine(
        (now - timedelta(days=HISTORY_DAYS - 1)).date(), datetime.min.time(), UTC
    )
    refused = await refused_domains(session, allowlist)
    items = _items("tag", await _tags(session, since, refused), now)
    items += _items("status", await _statuses(session, since, refused), now)
    items += _items("link", await _links(session, since, refused), now)
    return items


async def store(session: AsyncSession, items: list[TrendItem]) -> None:
    """Replace the stored trends with `items`."""
    await session.execute(delete(TrendItem))
    session.add_all(items)
    await session.flush()


async def compute(session: AsyncSession, allowlist: Allowlist, now: datetime | None = None) -> int:
    """Measure and store the trends in one session; returns how many items."""
    items = await measure(session, allowlist, now)
    await store(session, items)
    return len(items)


async def _claim(session: AsyncSession, interval: float, now: datetime) -> bool:
    """Take this interval's run for this process, or learn that another process has it."""
    due = now - timedelta(seconds=interval * DUE_SLACK)
    taken = await session.execute(
        update(TrendRun)
        .where(TrendRun.id == RUN_ROW, TrendRun.computed_at <= due)
        .values(computed_at=now)
    )
    if getattr(taken, "rowcount", 0) == 1:
        return True
    if await session.get(TrendRun, RUN_ROW) is not None:
        return False
    try:
        async with session.begin_nested():
            session.add(TrendRun(id=RUN_ROW, computed_at=now))
    except IntegrityError:
        return False  # another process made the row, and with it took this run
    return True


async def refresh(fed: Federation) -> int | None:
    """The periodic job: compute the trends if this interval's run is still to be done.
    Returns the number of items, or None when another process computes them.

    The claim and the result are two short write transactions with the reading in between,
    so that SQLite's one writer is not held up while the posts are counted. A process that
    dies in between leaves the last trends in place until the next interval."""
    now = utcnow()
    async with fed.db.write() as session:
        if not await _claim(session, float(fed.settings.trends_interval), now):
            return None
    async with fed.db.read() as session:
        items = await measure(session, fed.allowlist(), now)
    async with fed.db.write() as session:
        await store(session, items)
    log.info("trends computed: %d items, run of %s", len(items), now.isoformat())
    return len(items)
