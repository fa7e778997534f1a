"""The allowlist as stored: patterns plus an audit log of every change.

`ALLOWLIST` seeds the table only on a node that has never had an allowlist change; after that
the database is the truth, so a pattern an operator removed stays removed across restarts.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.federation import AllowlistAudit, AllowlistEntry


async def patterns(session: AsyncSession) -> list[str]:
    rows = await session.execute(select(AllowlistEntry.pattern).order_by(AllowlistEntry.pattern))
    return list(rows.scalars())


async def add(session: AsyncSession, pattern: str, actor: str) -> bool:
    """Add a (normalised) pattern; False when it was there already."""
    present = await session.scalar(select(exists().where(AllowlistEntry.pattern == pattern)))
    if present:
        return False
    session.add(AllowlistEntry(pattern=pattern, added_by=actor))
    session.add(AllowlistAudit(action="add", pattern=pattern, actor=actor))
    await session.flush()
    return True


async def remove(session: AsyncSession, pattern: str, actor: str) -> bool:
    result = await session.execute(delete(AllowlistEntry).where(AllowlistEntry.pattern == pattern))
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    session.add(AllowlistAudit(action="remove", pattern=pattern, actor=actor))
    await session.flush()
    return True


async def seed(session: AsyncSession, initial: Iterable[str]) -> bool:
    """Seed from settings once, on a node whose allowlist was never changed."""
    if await session.scalar(select(exists().where(AllowlistAudit.id.is_not(None)))):
        return False
    for pattern in dict.fromkeys(initial):
        session.add(AllowlistEntry(pattern=pattern, added_by="seed"))
        session.add(AllowlistAudit(action="seed", pattern=pattern, actor="FLURFUNK_ALLOWLIST"))
    await session.flush()
    return True


async def audit_log(session: AsyncSession, limit: int = 100) -> list[AllowlistAudit]:
    rows = await session.execute(
        select(AllowlistAudit).order_by(AllowlistAudit.id.desc()).limit(limit)
    )
    return list(rows.scalars())
