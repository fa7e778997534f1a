"""Content filters (Mastodon's v2 filters): what a user does not want to read, and where.

A filter belongs to one account and applies in some contexts (home, notifications, public,
thread, account) until it expires. It matches statuses by keyword and by status id; what
happens then is its action: `warn` (shown behind a warning), `hide` (left out), or
`blur` (media hidden behind a warning). Filters are private and never federate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ColumnElement,
    ForeignKey,
    Index,
    String,
    exists,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAt, TimeOrderedId, UTCDateTime

CONTEXTS = ("home", "notifications", "public", "thread", "account")
ACTIONS = ("warn", "hide", "blur")


class Filter(TimeOrderedId, CreatedAt, Base):
    __tablename__ = "filters"

    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False, index=True
    )
    title: Mapped[str] = mapped_column(String(255), nullable=False)
    context: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    action: Mapped[str] = mapped_column(String(16), default="warn", nullable=False)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class FilterKeyword(TimeOrderedId, CreatedAt, Base):
    __tablename__ = "filter_keywords"

    filter_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("filters.id", ondelete="CASCADE"), nullable=False, index=True
    )
    keyword: Mapped[str] = mapped_column(String(255), nullable=False)
    whole_word: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)


class FilterStatus(TimeOrderedId, CreatedAt, Base):
    __tablename__ = "filter_statuses"
    __table_args__ = (
        Index("ix_filter_statuses_filter_id_status_id", "filter_id", "status_id", unique=True),
    )

    filter_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("filters.id", ondelete="CASCADE"), nullable=False
    )
    # A filtered status that is deleted takes its filter entry with it.
    status_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("statuses.id", ondelete="CASCADE"), nullable=False, index=True
    )


def in_force(now: datetime) -> ColumnElement[bool]:
    """The filters that have not expired at `now`."""
    return or_(Filter.expires_at.is_(None), Filter.expires_at > now)


@dataclass
class ActiveFilter:
    """One filter in force, with what it matches: enough to filter statuses without the
    database."""

    filter: Filter
    keywords: list[FilterKeyword] = field(default_factory=list)
    status_ids: set[int] = field(default_factory=set)


async def active_filters(
    session: AsyncSession, account_id: int, now: datetime
) -> list[ActiveFilter]:
    """The account's filters in force, with their keywords and filtered statuses.

    One query (filters with their keywords); a second only when some filter names statuses.
    """
    names_statuses = exists().where(FilterStatus.filter_id == Filter.id)
    rows = (
        await session.execute(
            select(Filter, FilterKeyword, names_statuses)
            .outerjoin(FilterKeyword, FilterKeyword.filter_id == Filter.id)
            .where(Filter.account_id == account_id, in_force(now))
            .order_by(Filter.id, FilterKeyword.id)
        )
    ).all()
    found: dict[int, ActiveFilter] = {}
    with_statuses: list[int] = []
    for row, keyword, has_statuses in rows:
        entry = found.get(row.id)
        if entry is None:
            entry = found[row.id] = ActiveFilter(row)
            if has_statuses:
                with_statuses.append(row.id)
        if keyword is not None:
            entry.keywords.append(keyword)
    if with_statuses:
        pairs = await session.execute(
            select(FilterStatus.filter_id, FilterStatus.status_id).where(
                FilterStatus.filter_id.in_(with_statuses)
            )
        )
        for filter_id, status_id in pairs:
            found[filter_id].status_ids.add(status_id)
    return list(found.values())


async def keywords_of(session: AsyncSession, filter_ids: Sequence[int]) -> list[FilterKeyword]:
    if not filter_ids:
        return []
    query = select(FilterKeyword).where(FilterKeyword.filter_id.in_(filter_ids))
    return list((await session.execute(query.order_by(FilterKeyword.id))).scalars())


async def statuses_of(session: AsyncSession, filter_ids: Sequence[int]) -> list[FilterStatus]:
    if not filter_ids:
        return []
    query = select(FilterStatus).where(FilterStatus.filter_id.in_(filter_ids))
    return list((await session.execute(query.order_by(FilterStatus.id))).scalars())
