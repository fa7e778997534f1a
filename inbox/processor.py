"""Processing stored activities: claim due rows, run their handler, record the outcome.

A failing activity is retried with back-off and, after `MAX_ATTEMPTS`, kept with its error
(failed=True) — never dropped silently.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import orjson
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from inbox import handlers  # noqa: F401  (registers every handler)
from inbox.dereference import FetchError, actor
from inbox.dispatch import Incoming, handler_for
from inbox.parse import Unusable
from models.base import utcnow
from models.federation import InboxActivity
from outbox.context import Federation
from outbox.deliveries import queued_in
from outbox.loop import lease_only, work_until
from outbox.retry import backoff

log = logging.getLogger("flurfunk.inbox")
MAX_ATTEMPTS = 8
LOCK = timedelta(minutes=2)


class InboxProcessor:
    def __init__(
        self,
        fed: Federation,
        batch: int = 50,
        lease: timedelta = LOCK,
        owner: str | None = None,
    ) -> None:
        self.fed = fed
        self.batch = batch
        self.lease = lease  # the last resort: a claim lapses after this
        self.owner = owner  # whose heartbeat keeps the claims (outbox.claims)
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def claim(self) -> list[InboxActivity]:
        """Due rows, oldest first, held by this process while its heartbeat goes on (and at
        most until the lease lapses)."""
        now = utcnow()
        async with self.fed.db.write() as session:
            await lease_only(session)
            due = (
                select(InboxActivity.id)
                .where(
                    InboxActivity.processed_at.is_(None),
                    InboxActivity.failed.is_(False),
                    InboxActivity.next_attempt_at <= now,
                    or_(InboxActivity.locked_until.is_(None), InboxActivity.locked_until < now),
                )
                .order_by(InboxActivity.id)
                .limit(self.batch)
                .with_for_update(skip_locked=True)
            )
            # Claimed in one statement: the due rows nobody else holds are locked and marked.
            claimed = await session.scalars(
                update(InboxActivity)
                .where(InboxActivity.id.in_(due))
                .values(locked_until=now + self.lease, claimed_by=self.owner)
                .returning(InboxActivity)
                .execution_options(synchronize_session=False)
            )
            return sorted(claimed, key=lambda row: row.id)  # RETURNING keeps no order

    async def process(self, row: InboxActivity) -> None:
        """Run the row's handler; its changes and the row's outcome commit together, so an
        activity is either processed and marked so, or neither."""
        activity = orjson.loads(row.payload)
        handler = handler_for(row.type)
        error: str | None = None
        queued = False
        try:
            sender = await actor(self.fed, row.actor_uri) if handler is not None else None
            async with self.fed.db.write() as session:
                if handler is not None and sender is not None:
                    await handler(Incoming(self.fed, session, activity, sender))
                    queued = queued_in(session)  # an Accept or Reject is waiting to leave
                await _record(session, row, None, permanent=False)
        except (Unusable, FetchError) as exc:
            error = f"unusable: {exc}"
        except Exception as exc:  # kept with the row and retried; never lost silently
            log.exception("processing %s %s failed", row.type, row.activity_uri)
            error = f"{type(exc).__name__}: {exc}"
        if error is not None:
            async with self.fed.db.write() as session:
                await _record(session, row, error, permanent=error.startswith("unusable"))
        if queued:
            self.fed.wake_deliveries()

    async def run_once(self) -> int:
        """Process one batch of due rows; returns how many were claimed."""
        rows = await self.claim()
        for row in rows:  # in order: a Create must be stored before its Update or Delete
            await self.process(row)
        return len(rows)

    async def run(self, stop: asyncio.Event, idle_poll: float = 1.0) -> None:
        """Work until `stop` is set."""
        await work_until(
            stop, self._wake, self.run_once, name="inbox", batch=self.batch, idle_poll=idle_poll
        )


async def _record(
    session: AsyncSession, row: InboxActivity, error: str | None, *, permanent: bool
) -> None:
    """Processed; or failed for good; or to be retried later with back-off."""
    now = utcnow()
    attempts = row.attempts + 1
    values: dict[str, object] = {"attempts": attempts, "locked_until": None, "claimed_by": None}
    if error is None:
        values.update(processed_at=now, error=None)
    elif permanent or attempts >= MAX_ATTEMPTS:
        values.update(failed=True, error=error[:2000])
    else:
        values.update(
            error=error[:2000], next_attempt_at=now + timedelta(seconds=backoff(attempts))
        )
    await session.execute(
        update(InboxActivity)
        .where(InboxActivity.id == row.id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
