"""Ending browser sessions of the node's own pages (models.browser_session).

Here, not in web, so that every action that must end them can: a password change, and a
suspension or deletion of the account (user administration), as well as signing out.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import utcnow
from models.browser_session import BrowserSession
from models.oauth import AccessToken
from outbox import events


async def end(session: AsyncSession, rows: Iterable[BrowserSession]) -> None:
    """End these sessions: their cookies stop working and their live streams close."""
    now = utcnow()
    for row in rows:
        row.ended_at = now
        await session.execute(
            update(AccessToken)
            .where(AccessToken.id == row.token_id, AccessToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        events.token_revoked(session, row.token_id)


async def end_sessions(session: AsyncSession, account_id: int, keep: int | None = None) -> int:
    """End every browser session of an account but `keep` (the one asking); returns how many."""
    query = select(BrowserSession).where(
        BrowserSession.account_id == account_id, BrowserSession.ended_at.is_(None)
    )
    if keep is not None:
        query = query.where(BrowserSession.id != keep)
    rows = (await session.execute(query)).scalars().all()
    await end(session, rows)
    return len(rows)
