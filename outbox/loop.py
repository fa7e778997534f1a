"""The loop an in-process worker runs: work while there is work, else sleep until woken."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger("flurfunk.worker")


async def woken(stop: asyncio.Event, wake: asyncio.Event, idle_poll: float) -> None:
    """Return when `wake` or `stop` is set, or after `idle_poll` seconds."""
    if wake.is_set() or stop.is_set():
        return
    waits = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())]
    try:
        await asyncio.wait(waits, timeout=idle_poll, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waits:
            waiter.cancel()


async def work_until(
    stop: asyncio.Event,
    wake: asyncio.Event,
    step: Callable[[], Awaitable[int]],
    *,
    name: str,
    batch: int,
    idle_poll: float = 1.0,
) -> None:
    """Call `step` (returns how many rows it claimed, at most `batch`) until `stop`.

    A step that claimed fewer than `batch` rows took everything that was due when it looked,
    so the loop sleeps until `wake` or `idle_poll` seconds (rows that came due by time, or were
    written by other processes). `wake` is cleared before each step: a wake during a step is
    for rows committed after its claim, and makes the loop step again at once.
    """
    while not stop.is_set():
        wake.clear()
        try:
            claimed = await step()
        except Exception:  # the loop must outlive one bad batch; the rows keep the truth
            log.exception("%s: batch failed", name)
            claimed = 0
        if claimed < batch:
            await woken(stop, wake, idle_poll)


async def lease_only(session: AsyncSession) -> None:
    """Say that this transaction writes nothing but claims (`locked_until`, a due time).

    On PostgreSQL its commit then does not wait for the WAL to reach the disk (~4 ms here, far
    more on a busy disk); it is visible to every other transaction at once all the same. A
    claim lost in a database crash costs nothing: the row is claimed again, and a delivery sent
    twice is absorbed by the receiver's deduplication. Call it first in the transaction.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SET LOCAL synchronous_commit TO OFF"))
