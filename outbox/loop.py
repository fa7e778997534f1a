"""The loop every in-process worker runs: work while there is work, else sleep until woken."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("flurfunk.worker")


async def work_until(
    stop: asyncio.Event,
    wake: asyncio.Event,
    step: Callable[[], Awaitable[int]],
    *,
    name: str,
    idle_poll: float = 1.0,
) -> None:
    """Call `step` (returns how much it did) until `stop`; when idle, wait for `wake` or
    `idle_poll` seconds (rows written by other processes are picked up by the poll)."""
    while not stop.is_set():
        try:
            worked = await step()
        except Exception:  # the loop must outlive one bad batch; the rows keep the truth
            log.exception("%s: batch failed", name)
            worked = 0
        if worked:
            continue
        wake.clear()
        waits = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())]
        await asyncio.wait(waits, timeout=idle_poll, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waits:
            waiter.cancel()
