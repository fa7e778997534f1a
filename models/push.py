"""Web Push: one subscription per access token (as Mastodon), and one durable row per push.

A push row is the truth for its notification's way to a phone, like a delivery row for an
activity: the worker claims it, encrypts and POSTs, and retries with back-off.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAt, TimeOrderedId, UTCDateTime

PUSH_ALERTS = (
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
)
PUSH_POLICIES = ("all", "followed", "follower", "none")


class PushSubscription(TimeOrderedId, CreatedAt, Base):
    __tablename__ = "push_subscriptions"

    access_token_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("oauth_tokens.id", ondelete="CASCADE"), unique=True, nullable=False
    )
    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), index=True, nullable=False
    )
    endpoint: Mapped[str] = mapped_column(String(2048), nullable=False)
    p256dh: Mapped[str] = mapped_column(String(255), nullable=False)  # the phone's ECDH key
    auth: Mapped[str] = mapped_column(String(255), nullable=False)  # the shared auth secret
    standard: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    alerts: Mapped[str] = mapped_column(Text, nullable=False)  # comma-separated alert types
    policy: Mapped[str] = mapped_column(String(16), default="all", nullable=False)
    # The bearer token sealed with a key derived from SECRET_KEY: the payload carries it
    # (as Mastodon's does) while the token table keeps only digests.
    sealed_token: Mapped[str] = mapped_column(Text, nullable=False)


class PushJob(TimeOrderedId, CreatedAt, Base):
    """One notification on its way to one subscription."""

    __tablename__ = "push_jobs"
    __table_args__ = (Index("ix_push_jobs_due", "state", "next_attempt_at"),)

    subscription_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("push_subscriptions.id", ondelete="CASCADE"), nullable=False
    )
    notification_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("notifications.id", ondelete="CASCADE"), nullable=False
    )
    state: Mapped[str] = mapped_column(String(16), default="pending", nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
