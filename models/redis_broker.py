"""The event broker across processes: Redis pub/sub (see models.broker for the contract).

One subscriber connection per process multiplexes all of its listeners, and it reconnects by
itself when Redis restarts — listeners keep their subscriptions, but messages published while
Redis was away are lost (pub/sub keeps nothing). Publishing never raises: a failure is logged
and the message dropped, since what it announces has already happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from models.broker import QUEUE_SIZE, Broker, Published

log = logging.getLogger("flurfunk.broker")

SUBSCRIBE_WAIT = 2.0  # seconds a new Redis subscription may take to be confirmed
READ_TIMEOUT = 15.0  # seconds between health checks of the idle subscriber connection
RETRY_MAX = 5.0  # longest pause between attempts to reach Redis again
PUBLISH_PAUSE = 1.0  # after Redis failed a publish, drop events this long instead of waiting


class RedisBroker(Broker):
    """Messages travel through Redis pub/sub, so every process sharing it hears them.

    Channel names are prefixed with `namespace`: pub/sub ignores the database index, so nodes
    sharing one Redis server must not share channel names.
    """

    def __init__(self, url: str, *, namespace: str, queue_size: int = QUEUE_SIZE) -> None:
        super().__init__(queue_size)
        self._prefix = f"{namespace}:"
        # Named, so that CLIENT LIST tells which process each connection belongs to.
        self._publisher = Redis.from_url(
            url,
            socket_connect_timeout=2,
            socket_timeout=2,
            client_name=f"flurfunk-{self.origin}-publish",
        )
        self._subscriber = Redis.from_url(
            url,
            socket_connect_timeout=2,
            health_check_interval=int(READ_TIMEOUT),
            client_name=f"flurfunk-{self.origin}-subscribe",
        )
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._confirmations: dict[str, asyncio.Future[None]] = {}
        self._unavailable_until = 0.0

    def wire_name(self, channel: str) -> str:
        """The Redis pub/sub channel that carries `channel` (for publishers outside the broker,
        such as a job queue that nudges in the same round trip as it enqueues)."""
        return self._prefix + channel

    async def publish_many(self, messages: Sequence[Published]) -> None:
        if not messages:
            return
        if time.monotonic() < self._unavailable_until:
            log.debug("%d stream event(s) lost, Redis unavailable", len(messages))
            return  # no request waits on connection timeouts while Redis is away
        for attempt in (1, 2):  # a restarted Redis leaves one stale pooled connection behind
            try:
                async with self._publisher.pipeline(transaction=False) as pipe:
                    for channel, message in messages:
                        pipe.publish(self._prefix + channel, message)
                    await pipe.execute()
                return
            except (RedisError, OSError) as exc:
                if attempt == 2:
                    self._unavailable_until = time.monotonic() + PUBLISH_PAUSE
                    log.warning(
                        "%d stream event(s) lost, Redis unavailable: %s", len(messages), exc
                    )

    async def close(self) -> None:
        await super().close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        await self._drop_pubsub()
        await self._publisher.aclose()
        await self._subscriber.aclose()

    async def _first_listener(self, channels: list[str]) -> None:
        waiting = [self._confirmation(c) for c in channels]
        if self._reader is None:
            self._reader = asyncio.create_task(self._read(), name="redis-broker-reader")
        pubsub = self._pubsub
        # Without a connection, the reader subscribes to every wanted channel once it has one;
        # and when the subscription fails, it reconnects and subscribes again.
        if pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.subscribe(*(self._prefix + c for c in channels))
        await asyncio.wait(waiting, timeout=SUBSCRIBE_WAIT)

    async def _last_listener_gone(self, channels: list[str]) -> None:
        pubsub = self._pubsub
        if pubsub is None:
            return
        with contextlib.suppress(RedisError, OSError):
            await pubsub.unsubscribe(*(self._prefix + c for c in channels))

    def _confirmation(self, channel: str) -> asyncio.Future[None]:
        future = self._confirmations.get(channel)
        if future is None or future.done():
            future = asyncio.get_running_loop().create_future()
            self._confirmations[channel] = future
        return future

    async def _read(self) -> None:
        """Receive for the whole process; on a lost connection, reconnect and resubscribe."""
        pause = 0.1
        while True:
            try:
                await self._connect()
                pause = 0.1
                await self._receive()
            except (RedisError, OSError) as exc:
                log.warning("Redis subscriber connection lost (%s); retrying in %.1f s", exc, pause)
            await self._drop_pubsub()
            await asyncio.sleep(pause)
            pause = min(pause * 2, RETRY_MAX)

    async def _connect(self) -> None:
        pubsub = self._subscriber.pubsub()
        await pubsub.connect()
        self._pubsub = pubsub
        wanted = list(self._listeners)
        if wanted:
            await pubsub.subscribe(*(self._prefix + c for c in wanted))

    async def _receive(self) -> None:
        pubsub = self._pubsub
        assert pubsub is not None
        while True:
            message = await pubsub.get_message(timeout=READ_TIMEOUT)
            if message is None or message["type"] not in ("message", "subscribe"):
                continue
            name = message["channel"]
            channel = (name.decode() if isinstance(name, bytes) else str(name))[len(self._prefix) :]
            if message["type"] == "message":
                self._dispatch(channel, message["data"])
            elif message["type"] == "subscribe":
                future = self._confirmations.pop(channel, None)
                if future is not None and not future.done():
                    future.set_result(None)

    async def _drop_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()  # type: ignore[no-untyped-call]  # untyped in redis-py
