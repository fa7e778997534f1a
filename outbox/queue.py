"""Background work on Redis (arq): the job names, the pump that runs a kind of work, and the
nudge a web process gives after a commit.

A job carries no payload; it only says "rows are due". The worker that runs it claims due rows
from the database (FOR UPDATE SKIP LOCKED on PostgreSQL), so the rows stay the truth: a job
lost with Redis loses nothing — a worker's sweep claims the same rows seconds later — and a
job too many costs one claim that finds nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from arq.connections import ArqRedis
from redis.exceptions import RedisError

from models.settings import Settings

log = logging.getLogger("flurfunk.queue")

DELIVER = "deliver"  # send due deliveries
PROCESS_INBOX = "process_inbox"  # process stored activities that are due
ENQUEUE_GAP = 0.005  # seconds: wakes closer together than this share one job
WARN_EVERY = 60.0  # seconds between two warnings that Redis refuses jobs
# Jobs waiting beyond which web processes stop adding more: with workers down for an hour,
# one job per commit would fill Redis, and a few jobs wake the workers as well as many.
BACKLOG = 1000
BACKLOG_CHECK = 1.0  # seconds between two looks at the queue's length
CANCEL_TRIES = 10


async def cancel_and_wait(tasks: Iterable[asyncio.Future[Any]]) -> None:
    """Cancel `tasks` and wait until they have ended.

    The cancellation is repeated: redis-py checks a pooled connection under a zero-second
    timeout, and on Python 3.11 a cancellation that lands inside it is swallowed, so a task
    talking to Redis may go on as if nothing happened.
    """
    pending = {task for task in tasks if not task.done()}
    for _ in range(CANCEL_TRIES):
        if not pending:
            break
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=1.0)
    if pending:
        log.warning("%d task(s) ignored cancellation: %s", len(pending), pending)
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: what a cancelled task raised is of no interest


def queue_name(settings: Settings) -> str:
    # Several nodes may share one Redis database: each node has a queue of its own.
    return f"flurfunk:{settings.domain}:jobs"


def redis_client(settings: Settings) -> ArqRedis:
    """A client that connects on first use (a web process starts while Redis is down), and
    gives up quickly: nobody waits for an enqueue, but a black hole must not pile them up."""
    client: ArqRedis = ArqRedis.from_url(
        settings.redis_url, socket_connect_timeout=2, socket_timeout=5
    )
    return client


class Pump:
    """Runs `step` (which returns how much it did) until a step finds nothing to do, in at
    most `width` loops at once.

    A kick while every loop is busy is remembered and makes a busy loop step once more, so
    whatever was committed before a kick is claimed by a step that starts after it.
    """

    def __init__(self, name: str, step: Callable[[], Awaitable[int]], width: int = 1) -> None:
        self.name = name
        self._step = step
        self._width = width
        self._loops: set[asyncio.Task[int]] = set()
        self._again = False
        self._closed = False

    def kick(self) -> asyncio.Task[int] | None:
        """Start a loop (returned), or have a running one step again (None)."""
        if self._closed:
            return None
        if len(self._loops) >= self._width:
            self._again = True
            return None
        loop = asyncio.create_task(self._run(), name=f"pump {self.name}")
        self._loops.add(loop)
        loop.add_done_callback(self._loops.discard)
        return loop

    def wake(self) -> None:
        """`kick` for callers that do not wait (Federation.wake_deliveries and friends)."""
        self.kick()

    async def _run(self) -> int:
        done = 0
        while not self._closed:
            self._again = False
            try:
                worked = await self._step()
            except Exception:  # the rows keep the truth; the next kick or sweep retries
                log.exception("%s: step failed", self.name)
                return done
            done += worked
            if not worked and not self._again:
                break
        return done

    async def close(self, grace: float) -> None:
        """Let the steps in progress finish (cancelled after `grace` seconds); start no more."""
        self._closed = True
        if not self._loops:
            return
        _, late = await asyncio.wait(set(self._loops), timeout=grace)
        for loop in late:
            loop.cancel()
        await asyncio.gather(*late, return_exceptions=True)


class Enqueuer:
    """A web process's nudge to the workers: after a commit that queued work, enqueue a job.

    `wake` costs the request nothing: it schedules the enqueue. One enqueue per kind is in
    flight at a time and wakes meanwhile share the next one. When Redis is down the job is not
    enqueued (and a warning logged); the rows wait for a worker's sweep. Nor is it while
    more than BACKLOG jobs wait: the workers are behind or stopped and will claim every due
    row anyway.
    """

    def __init__(self, redis: ArqRedis, queue: str) -> None:
        self._redis = redis
        self._queue = queue
        self._busy: set[str] = set()
        self._again: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._failures = 0
        self._warned_at = -WARN_EVERY
        self._backlog = 0
        self._backlog_at = -BACKLOG_CHECK

    def wake(self, function: str) -> None:
        if function in self._busy:
            self._again.add(function)
            return
        self._busy.add(function)
        task = asyncio.create_task(self._enqueue(function))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _enqueue(self, function: str) -> None:
        try:
            while True:
                self._again.discard(function)
                try:
                    if not await self._backlogged():
                        await self._redis.enqueue_job(function, _queue_name=self._queue)
                except (RedisError, OSError) as exc:
                    self._refused(function, exc)
                    return
                await asyncio.sleep(ENQUEUE_GAP)
                if function not in self._again:
                    return
        finally:
            self._busy.discard(function)

    async def _backlogged(self) -> bool:
        moment = time.monotonic()
        if moment - self._backlog_at >= BACKLOG_CHECK:
            self._backlog = int(await self._redis.zcard(self._queue))
            self._backlog_at = moment
        return self._backlog > BACKLOG

    def _refused(self, function: str, exc: BaseException) -> None:
        self._failures += 1
        moment = time.monotonic()
        if moment - self._warned_at >= WARN_EVERY:
            log.warning(
                "Redis refused %d job(s), last %s: %s; workers' sweeps will pick the work up",
                self._failures,
                function,
                exc,
            )
            self._warned_at = moment
            self._failures = 0

    async def close(self) -> None:
        await cancel_and_wait(list(self._tasks))
        await self._redis.aclose()
