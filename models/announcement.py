"""Announcements: news a node publishes to its own staff, to chosen nodes or to the company.

An announcement lives on the node that published it (`local`) and, as a copy, on every node
in its audience. `marks` are per local account (shown, read); `hosts` are what the announcing
node knows of each audience node from its read receipts (see docs/announcements.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAt, TimeOrderedId, UTCDateTime


class Announcement(TimeOrderedId, CreatedAt, Base):
    __tablename__ = "announcements"

    uri: Mapped[str] = mapped_column(String(1024), unique=True, nullable=False)
    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), index=True, nullable=False
    )
    local: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    text: Mapped[str] = mapped_column(Text, default="", nullable=False)  # source (local ones)
    content: Mapped[str] = mapped_column(Text, nullable=False)  # sanitised HTML
    # As given: company, node, nodes:HOST,HOST or group:NAME@HOST.
    audience: Mapped[str] = mapped_column(String(1024), nullable=False)
    # The nodes it goes to (host[:port]), this node's own included where it is shown here.
    hosts: Mapped[list[str]] = mapped_column(JSON, default=list, nullable=False)
    # group:NAME@HOST: the group's actor; only its members on each node see the announcement.
    group_uri: Mapped[str | None] = mapped_column(String(1024))
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    all_day: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    requires_ack: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    # Receiving side: what the last read receipt sent said (nothing new: nothing to send).
    reported: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class AnnouncementMark(Base):
    """One local account and one announcement: shown to them, and maybe read."""

    __tablename__ = "announcement_marks"

    announcement_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("announcements.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Whether a read receipt sent home already named this read.
    reported: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)


class AnnouncementReaction(Base):
    __tablename__ = "announcement_reactions"

    announcement_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("announcements.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(64), primary_key=True)


class AnnouncementHost(Base):
    """Announcing side: one audience node and what its latest read receipts said."""

    __tablename__ = "announcement_hosts"

    announcement_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("announcements.id", ondelete="CASCADE"), primary_key=True
    )
    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    reached: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    acknowledged: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    acknowledged_by: Mapped[list[str]] = mapped_column(JSON, default=list, nullable=False)
    not_acknowledged: Mapped[list[str]] = mapped_column(JSON, default=list, nullable=False)
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
