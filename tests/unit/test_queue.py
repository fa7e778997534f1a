"""outbox/queue.py: the pump that runs a kind of background work, and the web processes'
nudge to the workers (against a real Redis database, index 9, emptied first)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from arq.connections import ArqRedis

from models.settings import Settings
from outbox.enqueue import BACKLOG, Enqueuer, redis_client
from outbox.queue import DELIVER, Pump
from tests.kit import free_port
from tests.scale_kit import SHARED_REDIS, fresh_redis

REDIS = f"{SHARED_REDIS}/9"
QUEUE = "flurfunk:test:jobs"


class Rows:
    """Stands in for due rows: a step claims what is due, then works until `gate` opens."""

    def __init__(self) -> None:
        self.due = 0
        self.steps = 0
        self.running = 0
        self.most_at_once = 0
        self.claimed = asyncio.Event()
        self.gate = asyncio.Event()
        self.gate.set()

    async def step(self) -> int:
        self.steps += 1
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        claimed, self.due = self.due, 0
        self.claimed.set()
        await self.gate.wait()
        await asyncio.sleep(0)
        self.running -= 1
        return claimed


async def test_a_kick_while_the_pump_is_busy_makes_it_step_once_more() -> None:
    rows = Rows()
    pump = Pump("rows", rows.step)
    rows.due = 3
    rows.gate.clear()
    loop = pump.kick()
    assert loop is not None
    await rows.claimed.wait()  # the first step has claimed its rows and is still busy
    rows.due = 2  # committed after that claim
    assert pump.kick() is None  # no second loop: the running one steps again
    rows.gate.set()
    assert await loop == 5
    assert rows.due == 0
    assert rows.steps == 3  # 3 rows, then 2, then nothing


async def test_a_pump_runs_at_most_width_loops() -> None:
    rows = Rows()
    pump = Pump("rows", rows.step, width=2)
    rows.due = 1
    rows.gate.clear()
    loops = [pump.kick() for _ in range(5)]
    started = [loop for loop in loops if loop is not None]
    assert len(started) == 2
    await asyncio.sleep(0)
    rows.gate.set()
    await asyncio.gather(*started)
    assert rows.most_at_once == 2


async def test_a_failing_step_ends_its_loop_and_a_later_kick_starts_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = 0

    async def step() -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database away")
        return 0

    pump = Pump("flaky", step)
    first = pump.kick()
    assert first is not None
    assert await first == 0
    assert "flaky: step failed" in caplog.text
    second = pump.kick()
    assert second is not None
    assert await second == 0
    assert calls == 2


async def test_a_closed_pump_finishes_its_step_and_takes_no_more_kicks() -> None:
    rows = Rows()
    pump = Pump("rows", rows.step)
    rows.due = 1
    loop = pump.kick()
    await pump.close(grace=5)
    assert loop is not None
    assert loop.done()
    assert not loop.cancelled()
    assert pump.kick() is None


@pytest.fixture
async def redis() -> AsyncIterator[ArqRedis]:
    fresh_redis(REDIS)
    client = redis_client(Settings(redis_url=REDIS))
    yield client
    await client.aclose()


async def test_wakes_in_a_burst_share_jobs(redis: ArqRedis) -> None:
    jobs = Enqueuer(redis_client(Settings(redis_url=REDIS)), QUEUE)
    for _ in range(100):
        jobs.wake(DELIVER)
    for _ in range(100):
        if await redis.zcard(QUEUE):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.1)
    await jobs.close()
    assert 1 <= await redis.zcard(QUEUE) <= 2  # the first wake's job, and one for the rest


async def test_no_more_jobs_beyond_the_backlog(redis: ArqRedis) -> None:
    await redis.zadd(QUEUE, {f"old-{n}": n for n in range(BACKLOG + 1)})
    jobs = Enqueuer(redis_client(Settings(redis_url=REDIS)), QUEUE)
    jobs.wake(DELIVER)
    await asyncio.sleep(0.1)
    await jobs.close()
    assert await redis.zcard(QUEUE) == BACKLOG + 1


async def test_a_wake_without_redis_costs_the_caller_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    jobs = Enqueuer(redis_client(Settings(redis_url=nowhere)), QUEUE)
    jobs.wake(DELIVER)  # returns at once; the enqueue fails in the background
    jobs.wake(DELIVER)
    await asyncio.sleep(0.2)
    await jobs.close()
    assert "Redis refused" in caplog.text
