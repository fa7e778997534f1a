"""Statuses and what hangs off them: edits, mentions, tags, media, idempotency keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAt, TimeOrderedId, UTCDateTime

VISIBILITIES = ("public", "unlisted", "private", "direct", "local")
GROUP_ONLY = "group"  # addressed to a members-only group: its members alone may read it


def account_fk(nullable: bool = False) -> Mapped[int]:
    return mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=nullable
    )


class Status(TimeOrderedId, CreatedAt, Base):
    """A post, or a boost of one (`reblog_of_id` set, no content of its own)."""

    __tablename__ = "statuses"
    __table_args__ = (
        Index("ix_statuses_account_id_id", "account_id", "id"),
        Index("ix_statuses_visibility_id", "visibility", "id"),
        Index("ix_statuses_reblog_of_id_account_id", "reblog_of_id", "account_id"),
    )

    account_id: Mapped[int] = account_fk()
    uri: Mapped[str | None] = mapped_column(String(1024), unique=True)
    url: Mapped[str | None] = mapped_column(String(1024))
    local: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    text: Mapped[str] = mapped_column(Text, default="", nullable=False)  # source as written
    content_type: Mapped[str] = mapped_column(String(32), default="text/plain", nullable=False)
    content: Mapped[str] = mapped_column(Text, default="", nullable=False)  # sanitised HTML
    spoiler_text: Mapped[str] = mapped_column(Text, default="", nullable=False)
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    # Held back by a compliance watch term: seen by its author alone, not federated, until
    # released (models.compliance, outbox.watch).
    held: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false(), nullable=False
    )
    visibility: Mapped[str] = mapped_column(String(16), default="public", nullable=False)
    language: Mapped[str | None] = mapped_column(String(16))
    in_reply_to_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("statuses.id", ondelete="SET NULL"), index=True
    )
    in_reply_to_account_id: Mapped[int | None] = mapped_column(BigInteger)
    thread_id: Mapped[int | None] = mapped_column(BigInteger, index=True)  # root of the thread
    reblog_of_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("statuses.id", ondelete="CASCADE")
    )
    application_id: Mapped[int | None] = mapped_column(BigInteger)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    replies_count: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    reblogs_count: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    favourites_count: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    # The group a post is addressed to (FEP-1b12 `audience`); with visibility "group" only
    # the group's members (its followers) may read it.
    audience_id: Mapped[int | None] = mapped_column(BigInteger, index=True)


class StatusEdit(TimeOrderedId, CreatedAt, Base):
    """One earlier or current revision of a status, for /history."""

    __tablename__ = "status_edits"

    status_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("statuses.id", ondelete="CASCADE"), index=True, nullable=False
    )
    text: Mapped[str] = mapped_column(Text, default="", nullable=False)
    content: Mapped[str] = mapped_column(Text, default="", nullable=False)
    spoiler_text: Mapped[str] = mapped_column(Text, default="", nullable=False)
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    media_ids: Mapped[list[int]] = mapped_column(JSON, default=list, nullable=False)


class Mention(Base):
    __tablename__ = "mentions"

    status_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("statuses.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Tag(TimeOrderedId, CreatedAt, Base):
    __tablename__ = "tags"

    name: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)  # lower case


class StatusTag(Base):
    __tablename__ = "status_tags"
    __table_args__ = (Index("ix_status_tags_tag_id_status_id", "tag_id", "status_id"),)

    status_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("statuses.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True
    )


class MediaAttachment(TimeOrderedId, CreatedAt, Base):
    __tablename__ = "media_attachments"

    account_id: Mapped[int] = account_fk()
    status_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("statuses.id", ondelete="SET NULL"), index=True
    )
    type: Mapped[str] = mapped_column(String(16), nullable=False)  # image/gifv/video/audio/unknown
    content_type: Mapped[str] = mapped_column(String(255), nullable=False)
    file_path: Mapped[str | None] = mapped_column(String(512))
    preview_path: Mapped[str | None] = mapped_column(String(512))
    # Indexed: serving a remote copy asks which posts carry it (outbox.media_access).
    remote_url: Mapped[str | None] = mapped_column(String(1024), index=True)
    file_size: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    focus: Mapped[str | None] = mapped_column(String(32))
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)
    blurhash: Mapped[str | None] = mapped_column(String(64))
    file_name: Mapped[str | None] = mapped_column(String(255))  # as uploaded, for documents
    # What the person uploaded (before an image was re-encoded): what the quota counts.
    original_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # None: ready; "queued": waiting for or in background processing; "failed".
    processing: Mapped[str | None] = mapped_column(String(16))
    processing_due: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    processing_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # When a deleted post left it unattached: a redraft may use it for a day from then.
    unattached_since: Mapped[datetime | None] = mapped_column(UTCDateTime)


class IdempotencyKey(CreatedAt, Base):
    """A client's Idempotency-Key for POST /api/v1/statuses, kept for an hour."""

    __tablename__ = "idempotency_keys"

    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    # Indexed: deleting a status (retention sweeps thousands) cascades here by status_id.
    status_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("statuses.id", ondelete="CASCADE"), nullable=False, index=True
    )
