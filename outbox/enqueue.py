"""How a web process hands work to the workers: after a commit that queued work, a job (and
a nudge) in Redis. Imported only by a node with Redis (see outbox.queue for the jobs).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

from arq.connections import ArqRedis
from arq.constants import job_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms
from redis.exceptions import RedisError

from models.settings import Settings
from outbox.queue import cancel_and_wait

log = logging.getLogger("flurfunk.queue")

ENQUEUE_GAP = 0.005  # seconds: wakes closer together than this share one job
WARN_EVERY = 60.0  # seconds between two warnings that Redis refuses jobs
# Jobs waiting beyond which web processes stop adding more: with workers down for an hour,
# one job per commit would fill Redis, and a few jobs wake the workers as well as many.
BACKLOG = 1000
BACKLOG_CHECK = 1.0  # seconds between two looks at the queue's length


def redis_client(settings: Settings) -> ArqRedis:
    """A client that connects on first use (a web process starts while Redis is down), and
    gives up quickly: nobody waits for an enqueue, but a black hole must not pile them up."""
    client: ArqRedis = ArqRedis.from_url(
        settings.redis_url, socket_connect_timeout=2, socket_timeout=5
    )
    return client


class Enqueuer:
    """A web process's nudge to the workers: after a commit that queued work, enqueue a job.

    `wake` costs the request nothing: it schedules the enqueue. One enqueue per kind is in
    flight at a time and wakes meanwhile share the next one. When Redis is down the job is not
    enqueued (and a warning logged); the rows wait for a worker's sweep. Nor is it while
    more than BACKLOG jobs wait: the workers are behind or stopped and will claim every due
    row anyway.

    With `nudges` (the Redis pub/sub channel that carries the broker's NUDGE), each job goes
    with a nudge that makes idle workers look for it at once rather than at their next poll; a
    nudge lost on the way costs only that wait.
    """

    def __init__(self, redis: ArqRedis, queue: str, nudges: str | None = None) -> None:
        self._redis = redis
        self._queue = queue
        self._nudges = nudges
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
                        await self._add_job(function)
                except (RedisError, OSError) as exc:
                    self._refused(function, exc)
                    return
                await asyncio.sleep(ENQUEUE_GAP)
                if function not in self._again:
                    return
        finally:
            self._busy.discard(function)

    async def _add_job(self, function: str) -> None:
        """arq's `enqueue_job`, and the nudge, in one round trip to Redis instead of four.

        arq first checks that no job with the same id exists; our ids are random (as arq's
        own), so the job is written at once, in arq's format.
        """
        job_id, now = uuid.uuid4().hex, timestamp_ms()
        job = serialize_job(function, (), {}, None, now, serializer=self._redis.job_serializer)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.psetex(job_key_prefix + job_id, self._redis.expires_extra_ms, job)
            pipe.zadd(self._queue, {job_id: now})
            if self._nudges is not None:
                pipe.publish(self._nudges, function.encode())
            await pipe.execute()

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
