"""Ending streams whose token stopped working because of another process.

A token revoked by a request of this node ends its streams at once (outbox.events). The CLI
(`user suspend`, `reset-password`, `delete`) changes the database from a process that has no
broker of ours, so every web process also looks, every WATCH_SECONDS, whether the tokens its
open streams were opened with still work — revoked, or the account suspended, its user disabled
or gone — and ends the streams of those that do not. One query per interval and process, for
the streams that process holds.
"""

from __future__ import annotations

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.broker import Broker
from models.db import Database
from models.tables import AccessToken, Account, User
from outbox import events, stream_channels

WATCH_SECONDS = 2.0  # CLI changes reach open streams well within the 5 s DESIGN promises
CHUNK = 500  # ids per query: keeps the IN list within every database's limits


async def dead_tokens(session: AsyncSession, token_ids: list[int]) -> list[int]:
    """Those of `token_ids` that no longer let anyone in (as web.auth.caller_for_token)."""
    query = (
        select(AccessToken.id)
        .outerjoin(Account, Account.id == AccessToken.account_id)
        .outerjoin(User, User.account_id == AccessToken.account_id)
        .where(
            AccessToken.id.in_(token_ids),
            or_(
                AccessToken.revoked_at.is_not(None),
                and_(
                    AccessToken.account_id.is_not(None),
                    or_(
                        Account.id.is_(None),
                        User.account_id.is_(None),
                        User.disabled.is_(True),
                        Account.suspended_at.is_not(None),
                    ),
                ),
            ),
        )
    )
    return list((await session.execute(query)).scalars())


async def end_dead_streams(db: Database, broker: Broker) -> int:
    """End this process's streams opened with tokens that stopped working; returns how many
    tokens that concerned."""
    channels = broker.listened(stream_channels.TOKEN_CHANNELS)
    ids = [int(c.removeprefix(stream_channels.TOKEN_CHANNELS)) for c in channels]
    dead: list[int] = []
    if not ids:
        return 0
    async with db.read() as session:
        for start in range(0, len(ids), CHUNK):
            dead += await dead_tokens(session, ids[start : start + CHUNK])
    for token_id in dead:
        broker.deliver_here(
            stream_channels.access_token(token_id), events.Message("revoked", token_id).encode()
        )
    return len(dead)
