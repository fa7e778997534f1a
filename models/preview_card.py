"""Link previews (Mastodon's PreviewCard): one per status, for the first link of its text.

A local status's card is fetched in the background: `link` is the URL to preview, the row is
due (`fetch_after`) until the page was read (`fetched_at`) or failed for good (`fetch_error`).
A remote status's card arrives with the post, already read. `image_url` is where the image
came from; the node serves its own copy of it (models.remote_file).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAt, TimeOrderedId, UTCDateTime

CARD_TYPES = ("link", "photo", "video", "rich")


class PreviewCard(TimeOrderedId, CreatedAt, Base):
    __tablename__ = "preview_cards"
    __table_args__ = (Index("ix_preview_cards_fetch_after", "fetch_after"),)

    status_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("statuses.id", ondelete="CASCADE"), unique=True, nullable=False
    )
    link: Mapped[str] = mapped_column(String(2048), nullable=False)  # what the post links to
    url: Mapped[str] = mapped_column(String(2048), default="", nullable=False)  # canonical
    title: Mapped[str] = mapped_column(String(512), default="", nullable=False)
    description: Mapped[str] = mapped_column(Text, default="", nullable=False)
    type: Mapped[str] = mapped_column(String(16), default="link", nullable=False)
    author_name: Mapped[str] = mapped_column(String(255), default="", nullable=False)
    author_url: Mapped[str] = mapped_column(String(2048), default="", nullable=False)
    provider_name: Mapped[str] = mapped_column(String(255), default="", nullable=False)
    provider_url: Mapped[str] = mapped_column(String(2048), default="", nullable=False)
    html: Mapped[str] = mapped_column(Text, default="", nullable=False)
    width: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    height: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    image_url: Mapped[str | None] = mapped_column(String(2048))
    image_description: Mapped[str] = mapped_column(String(1500), default="", nullable=False)
    embed_url: Mapped[str] = mapped_column(String(2048), default="", nullable=False)
    blurhash: Mapped[str | None] = mapped_column(String(100))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fetch_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fetch_attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    fetch_error: Mapped[str | None] = mapped_column(String(500))
