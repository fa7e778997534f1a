"""Home feeds (fan-out on write), lists, read markers and followed tags."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAt, TimeOrderedId, UTCDateTime, utcnow


class FeedEntry(Base):
    """A status in someone's home timeline, written when the status is created.

    Reading a home timeline is then one index range scan, however many accounts one follows;
    `author_id` (the poster, or the booster for a boost) lets an unfollow remove its entries.
    """

    __tablename__ = "feed_entries"
    __table_args__ = (Index("ix_feed_entries_account_id_author_id", "account_id", "author_id"),)

    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    status_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("statuses.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    author_id: Mapped[int] = mapped_column(BigInteger, nullable=False)


class List(TimeOrderedId, CreatedAt, Base):
    __tablename__ = "lists"

    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False, index=True
    )
    title: Mapped[str] = mapped_column(String(255), nullable=False)
    replies_policy: Mapped[str] = mapped_column(String(16), default="list", nullable=False)
    exclusive: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)


class ListAccount(Base):
    __tablename__ = "list_accounts"

    list_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("lists.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Marker(Base):
    """Where a user stopped reading a timeline (`home` or `notifications`)."""

    __tablename__ = "markers"

    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    timeline: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_read_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    version: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class FollowedTag(CreatedAt, Base):
    __tablename__ = "followed_tags"

    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True
    )
