"""What the compliance team keeps: watch terms (a word or regular expression with a label;
`hold` keeps a matching local post from federating) and the posts held back by one, until a
compliance officer releases them. A held status also carries `statuses.held`, which the one
visibility rule (models.visibility) reads: only its author sees it until it is released."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, String, Text, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAt, TimeOrderedId, UTCDateTime, utcnow


class WatchTerm(TimeOrderedId, CreatedAt, Base):
    __tablename__ = "watch_terms"

    term: Mapped[str] = mapped_column(Text, nullable=False)
    label: Mapped[str] = mapped_column(String(100), nullable=False)
    regex: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    hold: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    created_by: Mapped[str] = mapped_column(String(255), default="", nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class StatusHold(Base):
    """A local status kept from federating until released; `labels`: comma-separated."""

    __tablename__ = "status_holds"

    status_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("statuses.id", ondelete="CASCADE"), primary_key=True
    )
    labels: Mapped[str] = mapped_column(Text, default="", nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


async def terms(session: AsyncSession) -> list[WatchTerm]:
    return list(await session.scalars(select(WatchTerm).order_by(WatchTerm.id)))


async def terms_version(session: AsyncSession) -> tuple[int, int, datetime | None]:
    """Changes whenever a term is added, removed or changed (what a process's cache keys on)."""
    row = (
        await session.execute(
            select(func.count(WatchTerm.id), func.max(WatchTerm.id), func.max(WatchTerm.updated_at))
        )
    ).one()
    return int(row[0] or 0), int(row[1] or 0), row[2]


async def holds(session: AsyncSession, limit: int = 200) -> list[StatusHold]:
    rows = await session.scalars(
        select(StatusHold).order_by(StatusHold.status_id.desc()).limit(limit)
    )
    return list(rows)
