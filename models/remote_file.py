"""Copies of other hosts' files that this node serves itself: attachments, avatars and headers
of remote accounts and posts, and the images of link previews.

One row per remote URL, keyed by a digest of it (`key`), so that a presenter turns a URL into
the node's own `/media/remote/<key>` without looking anything up, and the same file named by
several rows is fetched once. A row is due for the background fetcher (`fetch_after`) until its
copy exists (`path`, relative to DATA_DIR/remote) or a fetch failed for good (`fetch_error`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAt, TimeOrderedId, UTCDateTime, utcnow

FOLDER = "remote"  # under DATA_DIR, outside the /media mount: served only after a check


def key_of(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:40]


class RemoteFile(TimeOrderedId, CreatedAt, Base):
    __tablename__ = "remote_files"
    __table_args__ = (Index("ix_remote_files_fetch_after", "fetch_after"),)

    key: Mapped[str] = mapped_column(String(40), unique=True, nullable=False)
    url: Mapped[str] = mapped_column(String(1024), nullable=False)
    path: Mapped[str | None] = mapped_column(String(255))
    content_type: Mapped[str | None] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)
    fetch_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fetch_attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    fetch_error: Mapped[str | None] = mapped_column(String(500))


async def want(session: AsyncSession, urls: Iterable[str | None]) -> None:
    """Make sure every URL has a row (due now when new); runs in the caller's transaction."""
    wanted = {key_of(u): u for u in urls if u and len(u) <= 1024}
    if not wanted:
        return
    known = set(
        (await session.execute(select(RemoteFile.key).where(RemoteFile.key.in_(wanted)))).scalars()
    )
    now = utcnow()
    for key, url in wanted.items():
        if key in known:
            continue
        try:
            async with session.begin_nested():  # another process may add the same URL now
                session.add(RemoteFile(key=key, url=url, fetch_after=now))
        except IntegrityError:
            continue
