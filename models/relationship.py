"""Who follows, blocks and mutes whom; follow requests waiting on locked accounts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ColumnElement, ForeignKey, String, UniqueConstraint, or_
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAt, TimeOrderedId, UTCDateTime, utcnow


def _account(index: bool = False) -> Mapped[int]:
    return mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False, index=index
    )


class Follow(TimeOrderedId, CreatedAt, Base):
    __tablename__ = "follows"
    __table_args__ = (UniqueConstraint("account_id", "target_account_id"),)

    account_id: Mapped[int] = _account()
    target_account_id: Mapped[int] = _account(index=True)
    show_reblogs: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    notify: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    uri: Mapped[str | None] = mapped_column(String(1024))


class FollowRequest(TimeOrderedId, CreatedAt, Base):
    __tablename__ = "follow_requests"
    __table_args__ = (UniqueConstraint("account_id", "target_account_id"),)

    account_id: Mapped[int] = _account()
    target_account_id: Mapped[int] = _account(index=True)
    show_reblogs: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    notify: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    uri: Mapped[str | None] = mapped_column(String(1024))


class Block(TimeOrderedId, CreatedAt, Base):
    __tablename__ = "blocks"
    __table_args__ = (UniqueConstraint("account_id", "target_account_id"),)

    account_id: Mapped[int] = _account()
    target_account_id: Mapped[int] = _account(index=True)
    uri: Mapped[str | None] = mapped_column(String(1024))


class Mute(TimeOrderedId, CreatedAt, Base):
    __tablename__ = "mutes"
    __table_args__ = (UniqueConstraint("account_id", "target_account_id"),)

    account_id: Mapped[int] = _account()
    target_account_id: Mapped[int] = _account(index=True)
    hide_notifications: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def in_force(self) -> bool:
        return self.expires_at is None or self.expires_at > utcnow()


def mute_in_force() -> ColumnElement[bool]:
    """A mute with a duration lapses by itself: past `expires_at` the row counts as no mute."""
    return or_(Mute.expires_at.is_(None), Mute.expires_at > utcnow())
