"""Notifications shown to a local account."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAt, TimeOrderedId

NOTIFICATION_TYPES = (
    "mention",
    "status",
    "reblog",
    "follow",
    "follow_request",
    "favourite",
    "poll",
    "update",
    "admin.sign_up",
    "admin.report",
    "moderation_warning",
)


class Notification(TimeOrderedId, CreatedAt, Base):
    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_account_id_id", "account_id", "id"),)

    account_id: Mapped[int] = mapped_column(  # who is notified
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False
    )
    from_account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False
    )
    type: Mapped[str] = mapped_column(String(32), nullable=False)
    status_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("statuses.id", ondelete="CASCADE"), index=True
    )
    # What an `admin.report` or a `moderation_warning` is about (no foreign key, so that
    # adding them did not rebuild the table on SQLite; reports and warnings are never deleted
    # on their own, and the serializer skips what it cannot find).
    report_id: Mapped[int | None] = mapped_column(BigInteger)
    warning_id: Mapped[int | None] = mapped_column(BigInteger)
