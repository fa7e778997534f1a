"""Moderation: reports about accounts (and their posts), the warnings that moderators' actions
leave for the affected person, and that person's appeals.

A report comes from a local person, from another node (a Flag; its reporter is that node's
actor) or from the node itself (`account_id` None: a compliance match). A warning is written
for every moderation action, whatever it was (`action` as Mastodon's AccountWarning); an
appeal answers one warning and is decided once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAt, TimeOrderedId, UTCDateTime, utcnow

CATEGORIES = ("spam", "legal", "violation", "other")
# Mastodon's AccountWarning actions.
WARNING_ACTIONS = (
    "none",
    "disable",
    "mark_statuses_as_sensitive",
    "delete_statuses",
    "sensitive",
    "silence",
    "suspend",
)


class Report(TimeOrderedId, CreatedAt, Base):
    __tablename__ = "reports"

    # Who reported: a local person, another node's actor, or None (the node itself).
    account_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="SET NULL"), index=True
    )
    target_account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False, index=True
    )
    status_ids: Mapped[list[int]] = mapped_column(JSON, default=list, nullable=False)
    rule_ids: Mapped[list[int]] = mapped_column(JSON, default=list, nullable=False)
    category: Mapped[str] = mapped_column(String(16), default="other", nullable=False)
    comment: Mapped[str] = mapped_column(Text, default="", nullable=False)
    # The reporter asked to send it on to the target's node (done when `forwarded`).
    forward: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    forwarded: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    # The Flag's id: ours for a forwarded report, the other node's for a received one.
    uri: Mapped[str | None] = mapped_column(String(1024), unique=True)
    assigned_account_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="SET NULL")
    )
    action_taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    action_taken_by_account_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="SET NULL")
    )
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class AccountWarning(TimeOrderedId, CreatedAt, Base):
    """What a moderator did to an account and why, as the account's owner reads it."""

    __tablename__ = "account_warnings"

    account_id: Mapped[int] = mapped_column(  # the affected account
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False, index=True
    )
    # Who acted: their account (None: the command line) and their name as the audit shows it.
    moderator_account_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="SET NULL")
    )
    moderator: Mapped[str] = mapped_column(String(255), default="", nullable=False)
    action: Mapped[str] = mapped_column(String(32), nullable=False)
    text: Mapped[str] = mapped_column(Text, default="", nullable=False)
    status_ids: Mapped[list[int]] = mapped_column(JSON, default=list, nullable=False)
    report_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("reports.id", ondelete="SET NULL")
    )
    # When an approved appeal undid the action.
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Appeal(TimeOrderedId, CreatedAt, Base):
    """The affected person's answer to a warning; another moderator approves or rejects it."""

    __tablename__ = "appeals"

    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False, index=True
    )
    warning_id: Mapped[int] = mapped_column(
        BigInteger,
        ForeignKey("account_warnings.id", ondelete="CASCADE"),
        unique=True,
        nullable=False,
    )
    text: Mapped[str] = mapped_column(Text, nullable=False)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rejected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_account_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="SET NULL")
    )

    @property
    def state(self) -> str:
        if self.approved_at is not None:
            return "approved"
        return "rejected" if self.rejected_at is not None else "pending"
