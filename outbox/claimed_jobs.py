"""Background work kept as rows and claimed under a lease, so that every process (the serve
process without Redis, each web process or `flurfunk worker` with it) may look for it and
exactly one takes each piece.

Both shapes here claim by compare-and-set: a process reads a row, then changes it only where
it still is what was read; of two processes that read the same row one changes it, the other
finds nothing to change. A process that dies holding a row loses it when the lease runs out,
and another one takes it again: the rows are the truth, nothing lives only in memory.

- `QueuedJobs`: a job with a state, waiting until claimed, then running under a lease that its
  holder may renew, until the holder finishes it (CSV imports, personal archives).
- `DueRows`: rows with a due time; claiming moves the due time a lease ahead, finishing clears
  it (media processing, link previews, copies of remote files and emoji images).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from models.base import TimeOrderedId, utcnow
from models.db import Database

Job = TypeVar("Job", bound=TimeOrderedId)


@dataclass(frozen=True)
class QueuedJobs(Generic[Job]):
    """Jobs in `table`, `waiting` until one process claims the oldest and sets it `running`,
    with `taken_at` the start of its lease."""

    table: type[Job]
    state: InstrumentedAttribute[str]
    taken_at: InstrumentedAttribute[datetime] | InstrumentedAttribute[datetime | None]
    waiting: str
    running: str
    lease: timedelta

    async def claim(self, db: Database, **values: object) -> Job | None:
        """Take the oldest waiting job, or a running one whose lease ran out, setting `values`
        with it; the job as it was read, or None when there is none or another process won."""
        async with db.write() as session:
            stale = utcnow() - self.lease
            job = await session.scalar(
                select(self.table)
                .where(
                    or_(
                        self.state == self.waiting,
                        (self.state == self.running) & (self.taken_at < stale),
                    )
                )
                .order_by(self.table.id)
                .limit(1)
            )
            if job is None:
                return None
            # Unchanged state and lease start: no other process claimed or renewed it since.
            taken = await session.execute(
                update(self.table)
                .where(
                    self.table.id == job.id,
                    self.state == getattr(job, self.state.key),
                    self.taken_at.is_not_distinct_from(getattr(job, self.taken_at.key)),
                )
                .values({self.state.key: self.running, self.taken_at.key: utcnow(), **values})
                .execution_options(synchronize_session=False)
            )
            return job if _changed_one(taken) else None

    async def renew(self, session: AsyncSession, job_id: int, *held: ColumnElement[bool]) -> bool:
        """Start the lease of a running job anew (where `held` says it is still ours); False
        when it is not."""
        renewed = await session.execute(
            update(self.table)
            .where(self.table.id == job_id, *held)
            .values({self.taken_at.key: utcnow()})
            .execution_options(synchronize_session=False)
        )
        return _changed_one(renewed)

    async def finish(
        self, session: AsyncSession, job_id: int, *held: ColumnElement[bool], **values: object
    ) -> bool:
        """Record how a job ended (`values`, its final state among them) where `held` says it
        is still ours; False when it is not."""
        finished = await session.execute(
            update(self.table)
            .where(self.table.id == job_id, *held)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return _changed_one(finished)


@dataclass(frozen=True)
class DueRows:
    """Rows whose `due` time has come, up to `batch` at a time, earliest first."""

    id: InstrumentedAttribute[int]
    due: InstrumentedAttribute[datetime | None]
    lease: timedelta
    batch: int
    only: ColumnElement[bool] | None = None  # rows outside it are never due here

    async def due_now(
        self, session: AsyncSession, now: datetime, *columns: InstrumentedAttribute[Any]
    ) -> list[tuple[Any, ...]]:
        """The rows due at `now` as (id, due, *columns), to be claimed one by one (`take`)."""
        due = self.due <= now
        rows = await session.execute(
            select(self.id, self.due, *columns)
            .where(due if self.only is None else due & self.only)
            .order_by(self.due)
            .limit(self.batch)
        )
        return [tuple(row) for row in rows]

    async def take(
        self, session: AsyncSession, row_id: int, due: datetime, now: datetime, **values: object
    ) -> bool:
        """Claim a row read as due at `due`, setting `values` with it: its due time moves a
        lease ahead, so it comes due again if this process dies before finishing it."""
        # Only one process moves the due time from what it read: that one has the row.
        taken = await session.execute(
            update(self.id.class_)
            .where(self.id == row_id, self.due == due)
            .values({self.due.key: now + self.lease, **values})
            .execution_options(synchronize_session=False)
        )
        return _changed_one(taken)

    async def claim(
        self, db: Database, *columns: InstrumentedAttribute[Any]
    ) -> list[tuple[Any, ...]]:
        """Take the rows due now: (id, *columns) of each one this process got."""
        now = utcnow()
        async with db.write() as session:
            claimed = []
            for row_id, due, *rest in await self.due_now(session, now, *columns):
                if await self.take(session, row_id, due, now):
                    claimed.append((row_id, *rest))
        return claimed

    async def finish(self, session: AsyncSession, row_id: int, **values: object) -> None:
        """The row is done with (`values` say how): it is no longer due."""
        await session.execute(
            update(self.id.class_)
            .where(self.id == row_id)
            .values({self.due.key: None, **values})
            .execution_options(synchronize_session=False)
        )


def _changed_one(result: object) -> bool:
    return bool(getattr(result, "rowcount", 0) == 1)
