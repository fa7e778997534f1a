"""Who holds a claimed row, and freeing what a dead process held.

A process claims delivery and inbox rows by setting `locked_until` (its lease) and
`claimed_by` (its owner id). A worker writes a heartbeat every BEAT seconds, and each beat
frees the rows of owners that have been silent for DEAD_AFTER (or never beat at all), so the
rows of a worker killed mid-batch are taken by the others within seconds. A worker judges
others only after beating for DEAD_AFTER itself, so that a database outage, which silences
everyone, does not make the first worker back take everybody's rows. The lease stays the
last resort: for rows that processes of an older version claimed without an owner.

An embedded node (serve without Redis) is the only process that works its database, so at
start every claim in it is stale: it frees them all before its loops begin.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from datetime import timedelta

from sqlalchemy import delete, select, update

from models.base import utcnow
from models.db import Database
from models.federation import Delivery, InboxActivity, WorkerHeartbeat
from outbox.loop import lease_only

BEAT = 2.0  # seconds between two heartbeats of a worker
DEAD_AFTER = timedelta(seconds=10)  # five beats missed: the owner is gone
FORGET_AFTER = timedelta(days=1)  # heartbeat rows of owners long gone are removed
CLAIMED = (Delivery, InboxActivity)


def new_owner() -> str:
    """An owner id unique to this process (host and pid say where to look in logs)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"


async def release_all(db: Database) -> int:
    """Free every claim; only for a process that knows it is the only one working `db`."""
    freed = 0
    async with db.write() as session:
        await lease_only(session)
        for table in CLAIMED:
            result = await session.execute(
                update(table)
                .where(table.locked_until.is_not(None))
                .values(locked_until=None, claimed_by=None)
                .execution_options(synchronize_session=False)
            )
            freed += result.rowcount  # type: ignore[attr-defined]
        await session.execute(delete(WorkerHeartbeat))
    return freed


class Heartbeat:
    """A worker's heartbeat; each beat also frees what silent owners hold."""

    def __init__(
        self,
        db: Database,
        owner: str,
        dead_after: timedelta = DEAD_AFTER,
        settle: timedelta = DEAD_AFTER,
    ) -> None:
        self.db = db
        self.owner = owner
        self.dead_after = dead_after
        self.settle = settle  # how long this process beats before it judges others
        self._beating_since: float | None = None  # monotonic; None after a failed beat
        self._last_beat = 0.0

    async def beat(self) -> int:
        """Say that this process is alive; returns how many rows of dead owners were freed.

        Call it once before the first claim: a claim whose owner has no heartbeat is freed.
        Others are judged only once this process has beaten for `settle` without a break (a
        failed beat, or a gap longer than `dead_after`): after an outage of the database every
        heartbeat is old, and the others get that long to beat again.
        """
        moment = time.monotonic()
        if (
            self._beating_since is None
            or moment - self._last_beat > self.dead_after.total_seconds()
        ):
            self._beating_since = moment
        self._last_beat = moment
        judge = moment - self._beating_since >= self.settle.total_seconds()
        try:
            return await self._beat(judge=judge)
        except BaseException:
            self._beating_since = None
            raise

    async def _beat(self, *, judge: bool) -> int:
        now = utcnow()
        async with self.db.write() as session:
            await lease_only(session)
            mine = await session.execute(
                update(WorkerHeartbeat)
                .where(WorkerHeartbeat.owner == self.owner)
                .values(beat_at=now)
                .execution_options(synchronize_session=False)
            )
            if not mine.rowcount:  # type: ignore[attr-defined]
                session.add(WorkerHeartbeat(owner=self.owner, beat_at=now))
                await session.flush()
            alive = select(WorkerHeartbeat.owner).where(
                WorkerHeartbeat.beat_at >= now - self.dead_after
            )
            freed = 0
            for table in CLAIMED if judge else ():
                result = await session.execute(
                    update(table)
                    .where(table.claimed_by.is_not(None), table.claimed_by.not_in(alive))
                    .values(locked_until=None, claimed_by=None)
                    .execution_options(synchronize_session=False)
                )
                freed += result.rowcount  # type: ignore[attr-defined]
            await session.execute(
                delete(WorkerHeartbeat).where(WorkerHeartbeat.beat_at < now - FORGET_AFTER)
            )
        return freed

    async def leave(self) -> None:
        """A clean stop: free what this process still holds, and say it is gone."""
        async with self.db.write() as session:
            await lease_only(session)
            for table in CLAIMED:
                await session.execute(
                    update(table)
                    .where(table.claimed_by == self.owner)
                    .values(locked_until=None, claimed_by=None)
                    .execution_options(synchronize_session=False)
                )
            await session.execute(
                delete(WorkerHeartbeat).where(WorkerHeartbeat.owner == self.owner)
            )
