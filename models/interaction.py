"""Favourites, bookmarks and pins: one row per (account, status)."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAt, TimeOrderedId


def _status() -> Mapped[int]:
    return mapped_column(
        BigInteger, ForeignKey("statuses.id", ondelete="CASCADE"), nullable=False, index=True
    )


def _account() -> Mapped[int]:
    return mapped_column(BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False)


class Favourite(TimeOrderedId, CreatedAt, Base):
    __tablename__ = "favourites"
    __table_args__ = (
        UniqueConstraint("account_id", "status_id"),
        Index("ix_favourites_account_id_id", "account_id", "id"),
    )

    account_id: Mapped[int] = _account()
    status_id: Mapped[int] = _status()
    uri: Mapped[str | None] = mapped_column(String(1024))


class Bookmark(TimeOrderedId, CreatedAt, Base):
    __tablename__ = "bookmarks"
    __table_args__ = (
        UniqueConstraint("account_id", "status_id"),
        Index("ix_bookmarks_account_id_id", "account_id", "id"),
    )

    account_id: Mapped[int] = _account()
    status_id: Mapped[int] = _status()


class Pin(TimeOrderedId, CreatedAt, Base):
    __tablename__ = "pins"
    __table_args__ = (UniqueConstraint("account_id", "status_id"),)

    account_id: Mapped[int] = _account()
    status_id: Mapped[int] = _status()
