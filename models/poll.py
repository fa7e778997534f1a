"""Polls on statuses, the votes cast in them, and statuses scheduled for later."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAt, TimeOrderedId, UTCDateTime


class Poll(TimeOrderedId, CreatedAt, Base):
    __tablename__ = "polls"

    status_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("statuses.id", ondelete="CASCADE"), unique=True, nullable=False
    )
    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False
    )
    options: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    # Votes per option, kept with the poll so that showing it needs no count query.
    tallies: Mapped[list[int]] = mapped_column(JSON, nullable=False)
    multiple: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    hide_totals: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    votes_count: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    voters_count: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    # Set once the end of the poll has been announced to its author and voters.
    ended_notified: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)


class PollVote(TimeOrderedId, CreatedAt, Base):
    __tablename__ = "poll_votes"
    __table_args__ = (Index("ix_poll_votes_poll_id_account_id", "poll_id", "account_id"),)

    poll_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("polls.id", ondelete="CASCADE"), nullable=False
    )
    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False
    )
    choice: Mapped[int] = mapped_column(Integer, nullable=False)


class ScheduledStatus(TimeOrderedId, CreatedAt, Base):
    """A status to be posted at `scheduled_at`, with the parameters it was created with."""

    __tablename__ = "scheduled_statuses"
    __table_args__ = (Index("ix_scheduled_statuses_due", "scheduled_at"),)

    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False, index=True
    )
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    media_ids: Mapped[list[int]] = mapped_column(JSON, default=list, nullable=False)
    application_id: Mapped[int | None] = mapped_column(BigInteger)
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
