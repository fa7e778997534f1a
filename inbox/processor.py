"""Processing stored activities: claim due rows, run their handler, record the outcome.

A failing activity is retried with back-off and, after `MAX_ATTEMPTS`, kept with its error
(failed=True) — never dropped silently.

Claimed rows are processed up to `PER_TRANSACTION` at a time in one write transaction, each
in a savepoint of its own: a commit and its round trips cost about as much as a Create's
own work, and the rows' outcomes commit with their changes either way. A row whose handler
fails rolls back only its savepoint (and the stream events it recorded). If the transaction
itself fails, the rows are processed again one per transaction, so one bad row costs only
itself. The stored row stays the truth throughout: a crash before the commit leaves the
rows unprocessed and claimed until the claim lapses or is freed, then they run again.
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
from inbox.targets import forget_looked_up, look_up_in_batch
from models.account import Account
from models.base import utcnow
from models.db import AFTER_COMMIT
from models.federation import InboxActivity
from outbox.context import Federation
from outbox.deliveries import queued_in
from outbox.loop import lease_only, work_until
from outbox.retry import backoff

log = logging.getLogger("flurfunk.inbox")
MAX_ATTEMPTS = 8
LOCK = timedelta(minutes=2)
# Rows per write transaction: enough to share a commit among many, few enough that on SQLite
# the write lock is not held long from the web requests that wait for it.
PER_TRANSACTION = 16
# Activity types after which what was looked up in the batch may have changed.
KEEPS_LOOK_UPS = frozenset({"Create", "Like", "Announce"})


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
        # In order: a Create must be stored before its Update or Delete.
        for start in range(0, len(rows), PER_TRANSACTION):
            await self.process_together(rows[start : start + PER_TRANSACTION])
        return len(rows)

    async def process_together(self, rows: list[InboxActivity]) -> None:
        """Process `rows` in one transaction, each in a savepoint; their outcomes commit with
        their changes. Falls back to one transaction per row if the shared one fails."""
        if len(rows) == 1:
            await self.process(rows[0])
            return
        senders = await self._senders(rows)
        queued = False
        try:
            async with self.fed.db.write() as session:
                look_up_in_batch(session)
                errors: dict[int, str] = {}
                for row in rows:
                    sender = senders.get(row.actor_uri)
                    if isinstance(sender, str):
                        error: str | None = sender
                    else:
                        error = await self._apply(session, row, sender)
                    if error is not None:
                        errors[row.id] = error
                    if error is not None or row.type not in KEEPS_LOOK_UPS:
                        forget_looked_up(session)
                await _record_all(session, rows, errors)
                queued = queued_in(session)
        except Exception:  # e.g. the commit failed: nothing of the batch was kept
            log.exception("processing %d activities together failed; one at a time", len(rows))
            for row in rows:
                await self.process(row)
            return
        if queued:
            self.fed.wake_deliveries()

    async def _senders(self, rows: list[InboxActivity]) -> dict[str, Account | str | None]:
        """Each sender's account (fetched when unknown or stale, before the write transaction
        opens), or why it could not be had; None for rows without a handler."""
        senders: dict[str, Account | str | None] = {}
        for row in rows:
            if row.actor_uri in senders or handler_for(row.type) is None:
                continue
            try:
                senders[row.actor_uri] = await actor(self.fed, row.actor_uri)
            except (Unusable, FetchError) as exc:
                senders[row.actor_uri] = f"unusable: {exc}"
            except Exception as exc:  # retried with the row; never lost silently
                log.exception("looking up %s failed", row.actor_uri)
                senders[row.actor_uri] = f"{type(exc).__name__}: {exc}"
        return senders

    async def _apply(
        self, session: AsyncSession, row: InboxActivity, sender: Account | None
    ) -> str | None:
        """Run the row's handler in a savepoint; the error when it failed (its changes and
        stream events then rolled back), else None."""
        handler = handler_for(row.type)
        if handler is None or sender is None:
            return None
        facts: list[object] = session.info.setdefault(AFTER_COMMIT, [])
        recorded = len(facts)
        try:
            async with session.begin_nested():
                await handler(Incoming(self.fed, session, orjson.loads(row.payload), sender))
            return None
        except (Unusable, FetchError) as exc:
            error = f"unusable: {exc}"
        except Exception as exc:  # kept with the row and retried; never lost silently
            log.exception("processing %s %s failed", row.type, row.activity_uri)
            error = f"{type(exc).__name__}: {exc}"
        del facts[recorded:]  # what rolled back announces nothing
        return error

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


async def _record_all(
    session: AsyncSession, rows: list[InboxActivity], errors: dict[int, str]
) -> None:
    """The outcome of every row of a batch: the processed ones in one statement."""
    done = [row.id for row in rows if row.id not in errors]
    if done:
        await session.execute(
            update(InboxActivity)
            .where(InboxActivity.id.in_(done))
            .values(
                attempts=InboxActivity.attempts + 1,
                locked_until=None,
                claimed_by=None,
                processed_at=utcnow(),
                error=None,
            )
            .execution_options(synchronize_session=False)
        )
    for row in rows:
        error = errors.get(row.id)
        if error is not None:
            await _record(session, row, error, permanent=error.startswith("unusable"))
