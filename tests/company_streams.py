"""The staff's WebSocket `user` streams during a company day, watched from child processes.

Two hundred streams in the process that also writes and plans would make the load generator
the bottleneck (each frame is parsed in its loop, and every write waits behind them). Each
child process runs its share of the streams in its own event loop and reports back, through
a queue, when a stream is connected and every `update` frame with the moment it arrived.
Moments are `time.perf_counter()`, which on Linux is CLOCK_MONOTONIC, one clock for every
process on the machine: a frame's moment and a write's `sent_at` compare as in one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import queue
import threading
import time
from collections.abc import Sequence
from multiprocessing.synchronize import Event
from typing import Any

import orjson
from websockets.asyncio.client import connect

# (WebSocket URL, bearer token, node name) of one stream
Stream = tuple[str, str, str]
PER_PROCESS = 50


def stream_of(url: str, token: str, node: str) -> Stream:
    return (url.replace("http", "ws", 1) + "/api/v1/streaming?stream=user", token, node)


async def _listen(number: int, stream: Stream, reports: Any) -> None:
    """One stream; reconnects while its node is down or restarting."""
    url, token, node = stream
    while True:
        try:
            async with connect(
                url,
                subprotocols=[token],  # type: ignore[list-item]
                compression=None,
                proxy=None,
                open_timeout=10,
            ) as socket:
                reports.put(("up", number))
                async for raw in socket:
                    moment = time.perf_counter()
                    frame = orjson.loads(raw)
                    if frame.get("event") == "update":
                        uri = str(orjson.loads(frame["payload"]).get("uri"))
                        reports.put(("frame", uri, node, moment))
        except (OSError, TimeoutError, Exception):  # the node is down or restarting
            reports.put(("down", number))
            await asyncio.sleep(1.0)


async def _watch_all(streams: list[tuple[int, Stream]], reports: Any, stop: Event) -> None:
    tasks = [asyncio.create_task(_listen(n, s, reports)) for n, s in streams]
    while not stop.is_set():  # noqa: ASYNC110  (an event of another process)
        await asyncio.sleep(0.2)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _watch(streams: list[tuple[int, Stream]], reports: Any, stop: Event) -> None:
    """A child process's work: its streams until `stop` is set."""
    asyncio.run(_watch_all(streams, reports, stop))


class Streams:
    """Streams watched from child processes (`PER_PROCESS` each); `frames` gets
    (status uri, node, moment) for every `update` frame, appended from a reader thread."""

    def __init__(
        self, streams: Sequence[Stream], frames: list[tuple[str, str, float]], processes: int = 0
    ) -> None:
        self.streams = list(streams)
        self.frames = frames
        count = processes or max(1, -(-len(self.streams) // PER_PROCESS))
        context = multiprocessing.get_context("spawn")  # no copy of this process's threads
        self._reports: Any = context.Queue()
        self._stop = context.Event()
        numbered = list(enumerate(self.streams))
        self._children = [
            context.Process(
                target=_watch, args=(numbered[i::count], self._reports, self._stop), daemon=True
            )
            for i in range(count)
        ]
        self._up: set[int] = set()
        self._reader = threading.Thread(target=self._read, daemon=True)

    def _read(self) -> None:
        while True:
            report = self._reports.get()
            if report is None:
                return
            if report[0] == "frame":
                _, uri, node, moment = report
                self.frames.append((uri, node, moment))
            elif report[0] == "up":
                self._up.add(report[1])
            else:
                self._up.discard(report[1])

    async def start(self, connected_within: float) -> None:
        """Start the children; return once every stream has been connected."""
        self._reader.start()
        for child in self._children:
            child.start()
        deadline = time.monotonic() + connected_within
        while len(self._up) < len(self.streams):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self._up)} of {len(self.streams)} streams connected")
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        """Stop the children; every frame they reported is in `frames` when this returns."""
        self._stop.set()
        for child in self._children:
            if child.pid is None:
                continue
            await asyncio.to_thread(child.join, 15)
            if child.is_alive():
                child.kill()
                await asyncio.to_thread(child.join, 5)
        if self._reader.is_alive():
            # After the children's own reports (they flushed the queue on their way out).
            self._reports.put(None)
            await asyncio.to_thread(self._reader.join, 15)
        with contextlib.suppress(queue.Empty, OSError, ValueError):
            self._reports.close()
