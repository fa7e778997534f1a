"""Accounts (local and remote actors) and the local users who sign in to them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAt, TimeOrderedId, UTCDateTime, utcnow


class Account(TimeOrderedId, CreatedAt, Base):
    """An actor: a local account (domain is None) or a remote one fetched over ActivityPub."""

    __tablename__ = "accounts"
    __table_args__ = (
        Index(
            "uq_accounts_handle",
            text("lower(username)"),
            text("coalesce(domain, '')"),
            unique=True,
        ),
    )

    username: Mapped[str] = mapped_column(String(64), nullable=False)
    domain: Mapped[str | None] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(255), default="", nullable=False)
    note: Mapped[str] = mapped_column(Text, default="", nullable=False)  # rendered HTML
    note_source: Mapped[str] = mapped_column(Text, default="", nullable=False)
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, nullable=False)
    avatar_path: Mapped[str | None] = mapped_column(String(512))
    header_path: Mapped[str | None] = mapped_column(String(512))
    avatar_remote_url: Mapped[str | None] = mapped_column(String(1024))
    header_remote_url: Mapped[str | None] = mapped_column(String(1024))
    locked: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    bot: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    group: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    # A remote group's visibility ("public", "members") as its actor says; None when it does
    # not say (then posts to it stay members-only). A local group's is in `groups`.
    group_visibility: Mapped[str | None] = mapped_column(String(16))
    discoverable: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    last_status_at: Mapped[date | None] = mapped_column(Date)
    statuses_count: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    followers_count: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    following_count: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    # ActivityPub: for local accounts derived from PUBLIC_URL, for remote ones as fetched.
    uri: Mapped[str | None] = mapped_column(String(1024), unique=True)
    url: Mapped[str | None] = mapped_column(String(1024))
    inbox_url: Mapped[str | None] = mapped_column(String(1024))
    shared_inbox_url: Mapped[str | None] = mapped_column(String(1024))
    followers_url: Mapped[str | None] = mapped_column(String(1024))
    public_key_pem: Mapped[str | None] = mapped_column(Text)
    private_key_pem: Mapped[str | None] = mapped_column(Text)
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why a moderator suspended it (the account's own API calls answer with it).
    suspension_reason: Mapped[str | None] = mapped_column(Text)
    # Moderation short of suspension: silenced accounts stay out of public timelines,
    # sensitized ones have their media marked sensitive.
    silenced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sensitized_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_local(self) -> bool:
        return self.domain is None

    def acct(self) -> str:
        """The handle as clients show it: `name` for local accounts, `name@host` otherwise."""
        return self.username if self.domain is None else f"{self.username}@{self.domain}"


class User(CreatedAt, Base):
    """Someone who signs in on this node; shares its id with their account."""

    __tablename__ = "users"

    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    role: Mapped[str] = mapped_column(String(16), default="user", nullable=False)
    locale: Mapped[str] = mapped_column(String(16), default="en", nullable=False)
    # Mastodon's /api/v1/preferences, keyed as the API names them.
    preferences: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
