"""Remote notes deleted by their author, remembered by uri (Mastodon's tombstones).

Deliveries are retried in no particular order and inbox rows may fail and be retried: a
note's Delete can be processed before its Create. Without a tombstone the Delete finds
nothing, and the Create that comes after it stores a post its author has deleted.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from models.base import utcnow
from models.federation import DeletedNote


async def remember(session: AsyncSession, uri: str) -> None:
    """Record that the note at `uri` was deleted (the caller checked that the sender may)."""
    if await session.get(DeletedNote, uri) is None:
        session.add(DeletedNote(uri=uri, deleted_at=utcnow()))


async def deleted(session: AsyncSession, uri: str) -> bool:
    return await session.get(DeletedNote, uri) is not None
