"""Read markers: where a user stopped reading, shared between their apps."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import utcnow
from models.db import upsert
from models.timeline import Marker

TIMELINES = ("home", "notifications")


async def save_markers(
    session: AsyncSession, account_id: int, positions: dict[str, int]
) -> list[Marker]:
    """Move the markers; each save bumps the marker's version so apps notice the change."""
    now = utcnow()
    for timeline, last_read_id in positions.items():
        statement = upsert(session, Marker).values(
            account_id=account_id,
            timeline=timeline,
            last_read_id=last_read_id,
            version=0,
            updated_at=now,
        )
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[Marker.account_id, Marker.timeline],
                set_={
                    "last_read_id": last_read_id,
                    "version": Marker.version + 1,
                    "updated_at": now,
                },
            )
        )
    rows = await session.execute(
        select(Marker)
        .where(Marker.account_id == account_id, Marker.timeline.in_(positions))
        .execution_options(populate_existing=True)
    )
    return list(rows.scalars())
