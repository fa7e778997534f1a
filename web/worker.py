"""`flurfunk worker`: a node's background work on Redis (arq) — deliveries, inbox processing,
scheduled statuses, ended polls and trends — for web processes that run with FLURFUNK_REDIS_URL.

Jobs carry no payload (outbox/queue.py): a web process enqueues `deliver` or `process_inbox`
after a commit that queued work, and the worker that takes the job claims whatever rows are
due (FOR UPDATE SKIP LOCKED), so any number of workers can run side by side. Each worker also
sweeps on a timer of its own (WORKER_SWEEP_SECONDS): it claims what is due without a job —
jobs lost with Redis, retries that came due — and runs the periodic jobs. Its heartbeat
(outbox.claims, every 2 s in the database) keeps its claims; each beat frees the rows of a
worker that has been silent for 10 s, and the freed rows are claimed at once. The timers need
no Redis: while Redis is away a worker keeps working at the sweep's pace, and takes jobs again
once Redis is back.

Latency: arq looks for new jobs every `poll_delay` (its default 0.5 s adds 250 ms to every
hop on average). So a web process follows each job with a nudge on the node's broker
(outbox/queue.py NUDGE, Redis pub/sub) and a worker looks at once when nudged: a job waits
for one pub/sub message, well under a millisecond, instead of half a poll. The poll
(WORKER_POLL_MS, 100 ms) only catches jobs whose nudge was lost (the worker's subscriber
connection was down), for one ZRANGEBYSCORE per 100 ms per idle worker. A look takes up to
WORKER_READ_LIMIT jobs, so polling alone would cap a worker at READ_LIMIT / POLL jobs a second
(500 with the defaults; a nudged look comes on top) — in line with what jobs cost (~0.9 ms of
arq's Redis round trips each, ~1,000 a second), and a job is not a delivery: one job drains
every due row.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from arq.connections import ArqRedis
from arq.worker import Worker, func
from redis.exceptions import RedisError
from sqlalchemy import text

from inbox import csv_import_run
from inbox.processor import InboxProcessor
from models.broker import Broker, SubscriptionDropped
from models.db import Database
from models.settings import Settings
from outbox import events, periodic, retention, trends
from outbox.allowlist import REFRESH_SECONDS
from outbox.claims import BEAT, Heartbeat, new_owner
from outbox.context import Federation
from outbox.enqueue import redis_client
from outbox.loop import woken
from outbox.queue import DELIVER, NUDGE, PROCESS_INBOX, Pump, cancel_and_wait, queue_name
from outbox.worker import PIPELINE, DeliveryWorker
from web import metrics
from web.runtime import build_federation, every, lease, send_pushes

log = logging.getLogger("flurfunk.worker")
BACKGROUND = "flurfunk"  # the key of the Background in arq's job context
JOB_WAIT = 60.0  # seconds a job follows the loop it started; the loop runs on regardless
SHUTDOWN_GRACE = 10.0  # seconds the steps in progress get to finish on SIGTERM
HEALTH_EVERY = 10  # seconds: arq records `<queue>:health-check` in Redis this often
RECONNECT_DELAYS = (0.5, 1.0, 2.0, 5.0)  # seconds between tries while Redis is away
INBOX_TURN = 0x466C7572_696E6278  # the advisory lock that orders inbox processing
Step = Callable[[], Awaitable[int]]


def in_turn(db: Database, step: Step) -> Step:
    """`step` holding a cluster-wide lock on PostgreSQL, so that workers process the inbox one
    batch at a time, in the order activities arrived (a Create before its Update or Delete),
    as one in-process loop does. The lock ends with its transaction, even if a worker dies."""
    if db.is_sqlite:
        return step

    async def locked() -> int:
        async with db.engine.begin() as connection:
            await connection.execute(text(f"SELECT pg_advisory_xact_lock({INBOX_TURN})"))
            worked: int = await step()
            return worked

    return locked


class Background:
    """What one worker process runs: pumps over the database rows, woken by jobs and sweeps."""

    def __init__(self, settings: Settings, db: Database, fed: Federation) -> None:
        self.fed = fed
        owner = new_owner()
        self.heartbeat = Heartbeat(db, owner)
        sender = DeliveryWorker(
            db,
            fed.client,
            settings,
            lease=lease(settings),
            owner=owner,
            observe=metrics.delivery_outcome,
        )
        processor = InboxProcessor(fed, lease=lease(settings), owner=owner)
        self.deliveries = Pump("deliveries", sender.step, width=PIPELINE, batch=sender.batch)
        self.inbox = Pump("inbox", in_turn(db, processor.run_once), batch=processor.batch)
        # What this process queues itself (an Accept, a scheduled post) it sends itself.
        fed.wake_deliveries = self.deliveries.wake
        fed.wake_inbox = self.inbox.wake

    async def sweep(self) -> None:
        self.deliveries.kick()
        self.inbox.kick()

    async def beat(self) -> None:
        """Keep this worker's claims; take over at once what dead workers held."""
        freed = await self.heartbeat.beat()
        if freed:
            log.warning("freed %d row(s) held by workers that stopped beating", freed)
            await self.sweep()

    async def close(self) -> None:
        await asyncio.gather(
            self.deliveries.close(SHUTDOWN_GRACE), self.inbox.close(SHUTDOWN_GRACE)
        )
        try:
            await self.heartbeat.leave()
        except Exception:  # the others free the rows once this worker's beats are missed
            log.exception("could not hand back this worker's claims")


async def _until_idle(pump: Pump) -> int:
    """Run `pump`; the job lasts as long as the loop it started (at most JOB_WAIT), so that a
    busy worker takes no more jobs than it has slots and other workers take the rest."""
    loop = pump.kick()
    if loop is None:
        return 0  # a loop is running and steps once more for this job
    await asyncio.wait({loop}, timeout=JOB_WAIT)
    return loop.result() if loop.done() and not loop.cancelled() else 0


async def deliver(ctx: dict[str, Any]) -> int:
    background: Background = ctx[BACKGROUND]
    return await _until_idle(background.deliveries)


async def process_inbox(ctx: dict[str, Any]) -> int:
    background: Background = ctx[BACKGROUND]
    return await _until_idle(background.inbox)


class NudgedWorker(Worker):
    """arq's worker, which looks for jobs every `poll_delay` and also as soon as `nudged` is
    set (a web process says it enqueued one)."""

    def __init__(self, *args: Any, nudged: asyncio.Event, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.nudged = nudged

    async def main(self) -> None:
        # arq's own main() without what we do not use (start-up hooks, burst mode); only the
        # pause between two looks differs.
        self.ctx["redis"] = self.pool
        stopped = asyncio.Event()  # never set: the task is cancelled to stop
        while True:
            self.nudged.clear()  # before looking: a nudge from now on is for a newer job
            await self._poll_iteration()
            await woken(stopped, self.nudged, self.poll_delay_s)


async def listen_for_nudges(broker: Broker, nudged: asyncio.Event) -> None:
    """Set `nudged` whenever a web process of this node enqueued a job, until the broker
    ends its streams (the process is stopping)."""
    async with broker.subscribe() as subscription:
        await subscription.add(NUDGE)
        with contextlib.suppress(SubscriptionDropped):
            while True:
                await subscription.get()
                nudged.set()


def arq_worker(
    settings: Settings, background: Background, redis: ArqRedis, nudged: asyncio.Event
) -> Worker:
    return NudgedWorker(
        functions=[func(deliver, name=DELIVER), func(process_inbox, name=PROCESS_INBOX)],
        queue_name=queue_name(settings),
        redis_pool=redis,
        handle_signals=False,  # SIGTERM stops the whole worker, not only arq (see `work`)
        ctx={BACKGROUND: background},
        poll_delay=settings.worker_poll_ms / 1000,
        queue_read_limit=settings.worker_read_limit,
        max_jobs=settings.worker_max_jobs,
        job_timeout=JOB_WAIT + 30,
        keep_result=0,  # nobody asks for results: the rows say what happened
        health_check_interval=HEALTH_EVERY,
        log_results=False,
        nudged=nudged,
    )


async def _redis_answers(redis: ArqRedis) -> bool:
    try:
        await redis.ping()
    except (RedisError, OSError):
        return False
    return True


async def _dismiss(worker: Worker, main: asyncio.Task[None], redis: ArqRedis) -> None:
    """Stop arq. Jobs in progress are cancelled (arq queues them again); the loops they
    started are not, they finish in the Background."""
    await cancel_and_wait([main, *worker.tasks.values()])
    with contextlib.suppress(RedisError, OSError):
        await redis.aclose()


async def take_jobs(settings: Settings, background: Background, stop: asyncio.Event) -> None:
    """Take arq jobs until `stop`; when Redis goes away, start again once it answers."""
    nudged = asyncio.Event()
    listener = asyncio.create_task(listen_for_nudges(background.fed.broker, nudged))
    try:
        await _take_jobs(settings, background, stop, nudged)
    finally:
        await cancel_and_wait([listener])


async def _take_jobs(
    settings: Settings, background: Background, stop: asyncio.Event, nudged: asyncio.Event
) -> None:
    failures = 0
    while not stop.is_set():
        redis = redis_client(settings)
        if await _redis_answers(redis):
            if failures:
                log.warning("Redis answers again: taking jobs")
            failures = 0
            worker = arq_worker(settings, background, redis, nudged)
            main = asyncio.create_task(worker.main())
            halt = asyncio.create_task(stop.wait())
            await asyncio.wait({main, halt}, return_when=asyncio.FIRST_COMPLETED)
            halt.cancel()
            lost = main.exception() if main.done() and not main.cancelled() else None
            await _dismiss(worker, main, redis)
            if lost is None:
                continue
            # A bug shows its traceback; Redis going away needs no more than a line.
            trace = None if isinstance(lost, RedisError | OSError) else lost
            log.warning("lost Redis (%s): sweeping only until it is back", lost, exc_info=trace)
        else:
            with contextlib.suppress(RedisError, OSError):
                await redis.aclose()
            if not failures:
                log.warning("Redis does not answer: sweeping only until it does")
        delay = RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)]
        failures += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)


async def work(settings: Settings) -> None:
    """The worker process: until SIGTERM or SIGINT, then a clean stop."""
    db = Database(
        settings.database_url,
        settings.db_pool_size,
        settings.db_pool_overflow,
        default_language=settings.default_language,
    )
    fed = await build_federation(settings, db)
    background = Background(settings, db, fed)
    await background.heartbeat.beat()  # before any claim: an owner without a beat is dead
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    sweep = float(settings.worker_sweep_seconds)
    tasks = [
        asyncio.create_task(every(REFRESH_SECONDS, stop, fed.allowlist.refresh, "allowlist")),
        asyncio.create_task(every(sweep, stop, background.sweep, "sweep")),
        asyncio.create_task(every(BEAT, stop, background.beat, "heartbeat")),
        asyncio.create_task(
            every(sweep, stop, lambda: periodic.publish_scheduled(fed), "scheduled")
        ),
        asyncio.create_task(every(sweep, stop, lambda: periodic.close_polls(fed), "polls")),
        asyncio.create_task(every(sweep, stop, lambda: periodic.build_archives(fed), "archives")),
        asyncio.create_task(every(sweep, stop, lambda: csv_import_run.run_pending(fed), "imports")),
        asyncio.create_task(
            every(
                sweep,
                stop,
                lambda: periodic.report_announcement_reads(fed),
                "announcement reads",
            )
        ),
        # Every worker runs the timer; trend_runs lets one of them compute per interval.
        asyncio.create_task(
            every(settings.trends_interval, stop, lambda: trends.refresh(fed), "trends")
        ),
        asyncio.create_task(send_pushes(settings, db, stop)),
        # Every worker runs it hourly; concurrent sweeps skip each other's locked rows.
        asyncio.create_task(
            every(retention.INTERVAL, stop, lambda: retention.sweep(fed, stop=stop), "retention")
        ),
    ]
    jobs = asyncio.create_task(take_jobs(settings, background, stop))
    gc.collect()
    gc.freeze()  # as in web processes (web/runtime.py): start-up state stays out of GC passes
    log.info(
        "worker started: queue %s, polling Redis every %d ms",
        queue_name(settings),
        settings.worker_poll_ms,
    )
    try:
        async with metrics.listening(settings.worker_metrics_listen, db):
            await _until_stopped(stop, jobs)
    finally:
        stop.set()
        await asyncio.gather(jobs, *tasks, return_exceptions=True)
        await background.close()
        await fed.client.aclose()
        if fed.preview_client is not None:
            await fed.preview_client.aclose()
        await events.disconnect(db)  # what committed is published before the broker closes
        await fed.broker.close()
        await db.dispose()
        log.info("worker stopped")


async def _until_stopped(stop: asyncio.Event, jobs: asyncio.Task[None]) -> None:
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({stopping, jobs}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if not stop.is_set():
        jobs.result()  # taking jobs ended by itself: a bug; exit (and be restarted)
        raise RuntimeError("the worker stopped taking jobs")
