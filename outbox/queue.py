"""Background work on Redis (arq): the job names and the pump that runs a kind of work; the
web processes' enqueuing is in outbox.enqueue (imported only by a node with Redis).

A job carries no payload; it only says "rows are due". The worker that runs it claims due rows
from the database (FOR UPDATE SKIP LOCKED on PostgreSQL), so the rows stay the truth: a job
lost with Redis loses nothing — a worker's sweep claims the same rows seconds later — and a
job too many costs one claim that finds nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from models.settings import Settings

log = logging.getLogger("flurfunk.queue")

DELIVER = "deliver"  # send due deliveries
PROCESS_INBOX = "process_inbox"  # process stored activities that are due
NUDGE = "jobs:nudge"  # broker channel: a job was enqueued, workers look for it at once
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


class Pump:
    """Runs `step` (which returns how many rows it claimed) until a step finds nothing to do
    — or, given `batch`, until a step claims fewer than `batch` rows: it took everything that
    was due — in at most `width` loops at once.

    A kick while every loop is busy is remembered and makes a busy loop step once more, so
    whatever was committed before a kick is claimed by a step that starts after it.
    """

    def __init__(
        self,
        name: str,
        step: Callable[[], Awaitable[int]],
        width: int = 1,
        batch: int | None = None,
    ) -> None:
        self.name = name
        self._step = step
        self._width = width
        self._full = batch or 1  # a step that claims this many may have left rows behind
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
            if worked < self._full and not self._again:
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
