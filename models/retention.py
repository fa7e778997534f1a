"""What compliance keeps about keeping: retention rules (how long posts stay), legal holds
(whose posts must stay), the hold archive (posts that a held account or a moderator deleted,
kept out of sight for investigations) and personal archives (a person's own export).

A post that is "hidden" under a legal hold is copied into `held_statuses` (with the ids of its
attachments, whose rows and files stay) before the normal deletion removes it from every
timeline, API and federation view; the investigation export reads both tables.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAt, TimeOrderedId, UTCDateTime, utcnow

# What a retention rule may name: a visibility, or `all` for every visibility without a rule
# of its own (`local` posts fall under `all`).
RULE_VISIBILITIES = ("public", "unlisted", "private", "direct", "all")


class RetentionRule(Base):
    """Posts of `visibility` older than `days` are deleted by the sweep."""

    __tablename__ = "retention_rules"

    visibility: Mapped[str] = mapped_column(String(16), primary_key=True)
    days: Mapped[int] = mapped_column(Integer, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class LegalHold(TimeOrderedId, CreatedAt, Base):
    """Nothing of `account_id` is erased while this row exists."""

    __tablename__ = "legal_holds"

    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), unique=True, nullable=False
    )
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    operator: Mapped[str] = mapped_column(String(255), nullable=False)


class HeldStatus(Base):
    """A post deleted while its author was under legal hold: its content as it was (`data`:
    the status' columns, mention and attachment ids), out of every view but the exports."""

    __tablename__ = "held_statuses"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # the status' own id
    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), index=True, nullable=False
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)  # the post's
    hidden_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)


class PersonalArchive(TimeOrderedId, CreatedAt, Base):
    """A person's request for their archive: `pending` until the background job wrote the
    zip (`ready`, at `file_path` under the media folder) or gave up (`failed`, `error`)."""

    __tablename__ = "personal_archives"

    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), index=True, nullable=False
    )
    state: Mapped[str] = mapped_column(String(16), default="pending", nullable=False)
    file_path: Mapped[str | None] = mapped_column(String(512))
    file_size: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str] = mapped_column(Text, default="", nullable=False)
