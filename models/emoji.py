"""Custom emoji: the node's own (uploaded by admins) and those of other nodes (named in the
`Emoji` tags of their notes and actors), one row per (shortcode, domain).

`domain` is "" for the node's own emoji (unique together with the shortcode on SQLite and
PostgreSQL alike, which a NULL would not be). A remote emoji is usable once its image has been
fetched and stored here (`image_path`): until then it has only `image_remote_url`, and
`fetch_after` says when the background fetcher may try (NULL: nothing to do).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String, Text, UniqueConstraint, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAt, TimeOrderedId, UTCDateTime, utcnow

LOCAL = ""


class CustomEmoji(TimeOrderedId, CreatedAt, Base):
    __tablename__ = "custom_emojis"
    __table_args__ = (
        UniqueConstraint("shortcode", "domain"),
        Index("ix_custom_emojis_fetch_after", "fetch_after"),
    )

    shortcode: Mapped[str] = mapped_column(String(64), nullable=False)
    domain: Mapped[str] = mapped_column(String(255), default=LOCAL, nullable=False)
    category: Mapped[str | None] = mapped_column(String(64))
    visible_in_picker: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    # Relative to DATA_DIR/media/emoji; the still image is the first frame of an animation.
    image_path: Mapped[str | None] = mapped_column(String(255))
    static_path: Mapped[str | None] = mapped_column(String(255))
    content_type: Mapped[str | None] = mapped_column(String(64))
    # Remote emoji: their ActivityStreams id and image as the home node names them.
    uri: Mapped[str | None] = mapped_column(String(1024))
    image_remote_url: Mapped[str | None] = mapped_column(String(1024))
    fetch_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fetch_attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    fetch_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


async def local_emojis(session: AsyncSession) -> list[CustomEmoji]:
    rows = await session.execute(
        select(CustomEmoji)
        .where(CustomEmoji.domain == LOCAL)
        .order_by(CustomEmoji.category, CustomEmoji.shortcode)
    )
    return list(rows.scalars())


async def find(session: AsyncSession, shortcode: str, domain: str = LOCAL) -> CustomEmoji | None:
    found: CustomEmoji | None = await session.scalar(
        select(CustomEmoji).where(CustomEmoji.shortcode == shortcode, CustomEmoji.domain == domain)
    )
    return found


async def usable(session: AsyncSession) -> list[CustomEmoji]:
    """Every emoji with an image on this node."""
    rows = await session.execute(select(CustomEmoji).where(CustomEmoji.image_path.is_not(None)))
    return list(rows.scalars())


async def usable_version(session: AsyncSession) -> tuple[int, datetime | None]:
    """Changes whenever an emoji becomes usable, changes or goes: (count, latest update)."""
    row = (
        await session.execute(
            select(func.count(), func.max(CustomEmoji.updated_at)).where(
                CustomEmoji.image_path.is_not(None)
            )
        )
    ).one()
    return int(row[0]), row[1]


async def usable_for(session: AsyncSession, domain: str, shortcodes: set[str]) -> list[CustomEmoji]:
    """The usable emoji of `domain` among `shortcodes` (for documents sent to other nodes)."""
    if not shortcodes:
        return []
    rows = await session.execute(
        select(CustomEmoji)
        .where(
            CustomEmoji.domain == domain,
            CustomEmoji.shortcode.in_(sorted(shortcodes)),
            CustomEmoji.image_path.is_not(None),
        )
        .order_by(CustomEmoji.shortcode)
    )
    return list(rows.scalars())
