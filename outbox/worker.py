"""The delivery worker: claim due rows, sign, POST, record the outcome.

Rows are claimed by setting `locked_until` and `claimed_by` (with FOR UPDATE SKIP LOCKED on
PostgreSQL, so several workers never take the same row); what a worker that dies held is freed
by the others' heartbeats within seconds (outbox.claims), or when an embedded node starts
again, or at the latest when the lease lapses, so a delivery is never lost — at worst it is
sent twice, which receivers absorb by deduplicating activity ids.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from federation.client import FederationClient, NotAllowed, ResponseTooLarge
from models.account import Account
from models.base import utcnow
from models.db import Database
from models.federation import Delivery, NodeKey, OutboxActivity
from models.settings import Settings
from outbox.hosts import (
    count_attempts,
    forget_old_hours,
    host_failed,
    host_is_alive,
    hour_of,
    unavailable_hosts,
)
from outbox.loop import lease_only, woken
from outbox.render import instance_key_id, key_id
from outbox.retry import HORIZON, backoff, retry_after, retryable_status
from outbox.signing import INSTANCE_KEY, identity

log = logging.getLogger("flurfunk.delivery")
LOCK = timedelta(minutes=2)
PIPELINE = 2  # batches in progress at once
ALIVE_EVERY = 1.0  # seconds
CONTENT_TYPE = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
# Told (peer host, outcome) after each recorded attempt; outcome: delivered, retry or failed.
DeliveryObserver = Callable[[str, str], None]


@dataclass
class Job:
    id: int
    inbox_url: str
    host: str
    attempts: int
    created_at: datetime
    payload: bytes
    key_id: str
    private_key_pem: str


@dataclass
class Outcome:
    job: Job
    status: int | None = None
    error: str | None = None
    permanent: bool = False
    retry_in: float | None = None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def _due(now: datetime) -> Any:
    return and_(
        Delivery.state == "pending",
        Delivery.next_attempt_at <= now,
        or_(Delivery.locked_until.is_(None), Delivery.locked_until < now),
    )


async def _record_delivered(session: AsyncSession, outcomes: list[Outcome], now: datetime) -> None:
    """Deliveries that succeeded differ only in id and status: one UPDATE per status."""
    delivered: dict[int, list[int]] = {}
    for o in outcomes:
        if o.delivered and o.status is not None:
            delivered.setdefault(o.status, []).append(o.job.id)
    for status, ids in delivered.items():
        await session.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids))
            .values(
                state="done",
                attempts=Delivery.attempts + 1,
                locked_until=None,
                claimed_by=None,
                last_status=status,
                last_error=None,
                done_at=now,
                next_attempt_at=now,
            )
            .execution_options(synchronize_session=False)
        )


def _gives_up(o: Outcome, now: datetime) -> bool:
    return o.permanent or now - o.job.created_at >= HORIZON


def _verdict(o: Outcome, now: datetime) -> str:
    if o.delivered:
        return "delivered"
    return "failed" if _gives_up(o, now) else "retry"


async def _record_failures(session: AsyncSession, outcomes: list[Outcome], now: datetime) -> None:
    """Retry later with back-off (or the peer's Retry-After), or give up for good."""
    changes = []
    for o in outcomes:
        if o.delivered:
            continue
        attempts = o.job.attempts + 1
        given_up = _gives_up(o, now)
        delay = o.retry_in if o.retry_in is not None else backoff(attempts)
        changes.append(
            {
                "id": o.job.id,
                "state": "failed" if given_up else "pending",
                "attempts": attempts,
                "locked_until": None,
                "claimed_by": None,
                "last_status": o.status,
                "last_error": (o.error or "")[:1000],
                "done_at": now if given_up else None,
                "next_attempt_at": now + timedelta(seconds=delay),
            }
        )
    if changes:
        await session.execute(update(Delivery), changes)


class DeliveryWorker:
    def __init__(
        self,
        db: Database,
        client: FederationClient,
        settings: Settings,
        *,
        batch: int = 200,
        concurrency: int = 64,
        lease: timedelta = LOCK,
        owner: str | None = None,
        observe: DeliveryObserver | None = None,
    ) -> None:
        self.db = db
        self.client = client
        self.settings = settings
        self.batch = batch
        self.lease = lease  # the last resort: a claim lapses after this
        self.owner = owner  # whose heartbeat keeps the claims (outbox.claims)
        self.observe = observe
        self._slots = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()
        self._alive_at: dict[str, float] = {}  # host -> when this worker last marked it alive
        self._recording = asyncio.Lock()
        self._counting_hour: datetime | None = None  # the hour whose counters this worker adds to

    def wake(self) -> None:
        """New rows are waiting: look now rather than at the next poll."""
        self._wake.set()

    async def claim(self, now: datetime, ids: list[int] | None = None) -> tuple[list[Job], int]:
        """The jobs to attempt now, and how many rows were claimed (rows of unavailable hosts
        are claimed and parked until their probe is due)."""
        async with self.db.write() as session:
            await lease_only(session)
            due = select(Delivery.id).where(_due(now))
            if ids is not None:
                due = due.where(Delivery.id.in_(ids))
            due = due.order_by(Delivery.next_attempt_at).limit(self.batch)
            # Claimed in one statement: the due rows nobody else holds are locked and marked.
            claimed = (
                await session.execute(
                    update(Delivery)
                    .where(Delivery.id.in_(due.with_for_update(skip_locked=True)))
                    .values(locked_until=now + self.lease, claimed_by=self.owner)
                    .returning(
                        Delivery.id,
                        Delivery.inbox_url,
                        Delivery.host,
                        Delivery.attempts,
                        Delivery.created_at,
                        Delivery.activity_id,
                    )
                    .execution_options(synchronize_session=False)
                )
            ).all()
            if not claimed:
                return [], 0
            # A batch mostly carries a few activities to many inboxes: load each once.
            activities = {
                activity_id: (payload.encode(), *await self._signer_of(session, account))
                for activity_id, payload, account in await session.execute(
                    select(OutboxActivity.id, OutboxActivity.payload, Account)
                    .outerjoin(Account, Account.id == OutboxActivity.account_id)
                    .where(OutboxActivity.id.in_({row.activity_id for row in claimed}))
                )
            }
            jobs = [
                Job(
                    row.id,
                    row.inbox_url,
                    row.host,
                    row.attempts,
                    row.created_at,
                    *activities[row.activity_id],
                )
                for row in claimed
                if row.activity_id in activities
            ]
            return await self._hold_back_unavailable(session, jobs, now), len(claimed)

    async def _signer_of(self, session: Any, account: Account | None) -> tuple[str, str]:
        """(key id, private PEM) that sign an activity: its actor's, or the instance
        actor's for what the node sends itself (a forwarded report)."""
        if account is not None:
            return key_id(self.settings, account), account.private_key_pem or ""
        row = await session.get(NodeKey, INSTANCE_KEY)
        return instance_key_id(self.settings), row.private_key_pem if row else ""

    async def _hold_back_unavailable(
        self, session: Any, jobs: list[Job], now: datetime
    ) -> list[Job]:
        """Send one probe per unavailable host when its probe is due; park the rest."""
        down = await unavailable_hosts(session, {j.host for j in jobs})
        if not down:
            return jobs
        keep, parked, probing = [], [], set()
        for job in jobs:
            if job.host not in down:
                keep.append(job)
                continue
            probe_at = down[job.host]
            if (probe_at is None or probe_at <= now) and job.host not in probing:
                probing.add(job.host)
                keep.append(job)
            else:
                parked.append(job)
        for job in parked:
            probe = down[job.host]
            await session.execute(
                update(Delivery)
                .where(Delivery.id == job.id)
                .values(
                    locked_until=None,
                    claimed_by=None,
                    next_attempt_at=probe if probe and probe > now else now + LOCK,
                )
            )
        return keep

    async def attempt(self, job: Job) -> Outcome:
        async with self._slots:
            try:
                sign = identity(job.key_id, job.private_key_pem).signer()
                fetched = await self.client.request(
                    "POST",
                    job.inbox_url,
                    content=job.payload,
                    sign=sign,
                    headers={"content-type": CONTENT_TYPE, "accept": "application/json"},
                    max_body=64 << 10,
                )
            except NotAllowed as exc:
                return Outcome(job, error=str(exc), permanent=True)
            except (httpx.ConnectError, ssl.SSLError) as exc:
                # A certificate the company CA does not vouch for will not fix itself.
                permanent = "CERTIFICATE_VERIFY_FAILED" in str(exc)
                return Outcome(job, error=f"connect: {exc}", permanent=permanent)
            except (httpx.HTTPError, ResponseTooLarge, OSError) as exc:
                return Outcome(job, error=f"{type(exc).__name__}: {exc}")
            if 200 <= fetched.status < 300:
                return Outcome(job, status=fetched.status)
            if retryable_status(fetched.status):
                return Outcome(
                    job,
                    status=fetched.status,
                    error=f"HTTP {fetched.status}",
                    retry_in=retry_after(fetched.headers.get("retry-after"), utcnow()),
                )
            return Outcome(
                job, status=fetched.status, error=f"HTTP {fetched.status}", permanent=True
            )

    async def record(self, outcomes: list[Outcome], now: datetime) -> None:
        # One at a time: two batches of one worker must not both create a new host's row.
        async with self._recording, self.db.write() as session:
            await _record_delivered(session, outcomes, now)
            await _record_failures(session, outcomes, now)
            await self._record_host_health(session, outcomes, now)
            await count_attempts(
                session,
                Counter(o.job.host for o in outcomes if o.delivered),
                Counter(o.job.host for o in outcomes if not o.delivered),
                now,
            )
            if self._counting_hour != hour_of(now):  # once an hour per worker
                await forget_old_hours(session, now)
                self._counting_hour = hour_of(now)
        if self.observe is not None:
            for o in outcomes:
                self.observe(o.job.host, _verdict(o, now))

    async def _record_host_health(
        self, session: AsyncSession, outcomes: list[Outcome], now: datetime
    ) -> None:
        answered = {
            o.job.host for o in outcomes if o.status is not None and not retryable_status(o.status)
        }
        unreachable = {
            o.job.host
            for o in outcomes
            if not o.permanent
            and not o.delivered
            and (o.status is None or retryable_status(o.status))
        } - answered
        moment = time.monotonic()
        # A host this worker found alive a moment ago (and not failing since) is still
        # recorded as alive: marking it again would cost two statements per batch.
        alive = sorted(
            h for h in answered if moment - self._alive_at.get(h, -ALIVE_EVERY) >= ALIVE_EVERY
        )
        for host in alive:
            await host_is_alive(session, host, now)
        for host in sorted(unreachable):
            await host_failed(session, host, now)
        self._alive_at.update(dict.fromkeys(alive, moment))
        for host in unreachable:
            self._alive_at.pop(host, None)

    async def run_once(self) -> int:
        """Deliver one batch of due rows; returns how many were attempted."""
        jobs, _ = await self.claim(utcnow())
        await self.deliver(jobs)
        return len(jobs)

    async def step(self) -> int:
        """Deliver one batch of due rows; returns how many rows were claimed (a full batch
        may have left more that are due)."""
        jobs, claimed = await self.claim(utcnow())
        await self.deliver(jobs)
        return claimed

    async def deliver(self, jobs: list[Job]) -> None:
        """POST every job at once (within the worker's concurrency), then record the outcomes."""
        if not jobs:
            return
        outcomes = await asyncio.gather(*(self.attempt(j) for j in jobs))
        await self.record(list(outcomes), utcnow())
        for o in outcomes:
            if not o.delivered:
                log.info("delivery %s to %s: %s", o.job.id, o.job.inbox_url, o.error)

    async def run(self, stop: asyncio.Event, idle_poll: float = 1.0) -> None:
        """Work until `stop` is set.

        One loop claims; up to PIPELINE claimed batches are delivered at once, so that one
        batch's POSTs are in flight while the next is claimed or recorded (claims never
        overlap: rows are locked). A wake leads to one claim; only a full batch, which may have
        left rows behind, leads to the next claim at once. `_wake` is cleared before a claim,
        so a wake during it (rows committed after it looked) makes the loop claim again.
        """
        slots = asyncio.Semaphore(PIPELINE)
        batches: set[asyncio.Task[None]] = set()

        async def deliver(jobs: list[Job]) -> None:
            try:
                await self.deliver(jobs)
            except Exception:  # the rows keep the truth: unrecorded ones are claimed again
                log.exception("deliveries: batch failed")
            finally:
                slots.release()

        while not stop.is_set():
            await slots.acquire()
            self._wake.clear()
            try:
                jobs, claimed = await self.claim(utcnow())
            except Exception:  # the loop must outlive a failing database; it looks again
                log.exception("deliveries: claim failed")
                jobs, claimed = [], 0
            if jobs:
                batch = asyncio.create_task(deliver(jobs))
                batches.add(batch)
                batch.add_done_callback(batches.discard)
            else:
                slots.release()
            if claimed < self.batch:
                await woken(stop, self._wake, idle_poll)
        await asyncio.gather(*batches)
