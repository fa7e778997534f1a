"""The event broker: what one process publishes, the listeners of every process hear.

A channel is a plain name (`home:123`, `public:local`, `hashtag:cats`); a message is a few
bytes. A listener holds one `Subscription` whose channels it can add and remove; messages for
them wait in a bounded queue, and a listener that falls `queue_size` messages behind is dropped
(`get()` raises `SubscriptionDropped`) rather than letting its backlog grow without bound.

`InProcessBroker` serves one process. `RedisBroker` carries messages between processes over
Redis pub/sub: one subscriber connection per process multiplexes all of its listeners, and it
reconnects by itself when Redis restarts — listeners keep their subscriptions, but messages
published while Redis was away are lost (pub/sub keeps nothing). Publishing never raises: a
failure is logged and the message dropped, since what it announces has already happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Iterable, Sequence
from types import TracebackType

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from models.settings import Settings

log = logging.getLogger("flurfunk.broker")

QUEUE_SIZE = 1000  # messages waiting for one listener before it is dropped
SUBSCRIBE_WAIT = 2.0  # seconds a new Redis subscription may take to be confirmed
READ_TIMEOUT = 15.0  # seconds between health checks of the idle subscriber connection
RETRY_MAX = 5.0  # longest pause between attempts to reach Redis again
PUBLISH_PAUSE = 1.0  # after Redis failed a publish, drop events this long instead of waiting

Published = tuple[str, bytes]


class SubscriptionDropped(Exception):
    """The listener fell too far behind (or the broker closed); its stream must end."""


class Subscription:
    """One listener's channels and the messages waiting for it."""

    def __init__(self, broker: Broker, queue_size: int) -> None:
        self._broker = broker
        self._limit = queue_size
        # One slot more than the limit: room for the marker that says "dropped".
        self._queue: asyncio.Queue[Published | None] = asyncio.Queue(queue_size + 1)
        self.channels: set[str] = set()
        self.dropped = False

    async def add(self, *channels: str) -> None:
        """Start receiving `channels`; returns once messages published from now on arrive."""
        new = [c for c in dict.fromkeys(channels) if c not in self.channels]
        self.channels.update(new)
        await self._broker._listen(self, new)

    async def remove(self, *channels: str) -> None:
        gone = [c for c in dict.fromkeys(channels) if c in self.channels]
        self.channels.difference_update(gone)
        await self._broker._forget(self, gone)

    async def get(self) -> Published:
        """The next (channel, message); raises SubscriptionDropped once dropped."""
        item = await self._queue.get()
        if item is None:
            self._queue.put_nowait(None)  # every later get() says so too
            raise SubscriptionDropped()
        return item

    def deliver(self, channel: str, message: bytes) -> None:
        if self.dropped:
            return
        if self._queue.qsize() >= self._limit:
            self.drop()
            return
        self._queue.put_nowait((channel, message))

    def drop(self) -> None:
        """Forget what is waiting and make the listener's next get() raise."""
        if self.dropped:
            return
        self.dropped = True
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(None)

    async def close(self) -> None:
        await self.remove(*self.channels)
        self._broker._subscriptions.discard(self)

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()


class Broker:
    """Local bookkeeping shared by both brokers: which subscriptions want which channel."""

    def __init__(self, queue_size: int = QUEUE_SIZE) -> None:
        self.queue_size = queue_size
        # Tells this process apart from others sharing the broker (diagnostics, tests).
        self.origin = secrets.token_hex(4)
        self._listeners: dict[str, set[Subscription]] = {}
        self._subscriptions: set[Subscription] = set()
        self._ending = False

    @property
    def subscriber_count(self) -> int:
        """Open subscriptions in this process (one per stream connection)."""
        return len(self._subscriptions)

    def subscribe(self, queue_size: int | None = None) -> Subscription:
        subscription = Subscription(self, queue_size or self.queue_size)
        self._subscriptions.add(subscription)
        if self._ending:
            subscription.drop()
        return subscription

    async def publish(self, channel: str, message: bytes) -> None:
        await self.publish_many([(channel, message)])

    async def publish_many(self, messages: Sequence[Published]) -> None:
        raise NotImplementedError

    @property
    def ending(self) -> bool:
        """The process is stopping; streams end."""
        return self._ending

    def end_streams(self) -> None:
        """Drop every subscription, now and from now on: the process is stopping."""
        self._ending = True
        for subscription in list(self._subscriptions):
            subscription.drop()

    async def close(self) -> None:
        self.end_streams()

    def _dispatch(self, channel: str, message: bytes) -> None:
        for subscription in list(self._listeners.get(channel, ())):
            subscription.deliver(channel, message)

    async def _listen(self, subscription: Subscription, channels: Iterable[str]) -> None:
        first = []
        for channel in channels:
            listeners = self._listeners.setdefault(channel, set())
            if not listeners:
                first.append(channel)
            listeners.add(subscription)
        if first:
            await self._first_listener(first)

    async def _forget(self, subscription: Subscription, channels: Iterable[str]) -> None:
        last = []
        for channel in channels:
            listeners = self._listeners.get(channel)
            if listeners is None:
                continue
            listeners.discard(subscription)
            if not listeners:
                del self._listeners[channel]
                last.append(channel)
        if last:
            await self._last_listener_gone(last)

    async def _first_listener(self, channels: list[str]) -> None:
        """Hook: someone in this process now listens to `channels`."""

    async def _last_listener_gone(self, channels: list[str]) -> None:
        """Hook: nobody in this process listens to `channels` any more."""


class InProcessBroker(Broker):
    """Messages reach the listeners of this process only."""

    async def publish_many(self, messages: Sequence[Published]) -> None:
        for channel, message in messages:
            self._dispatch(channel, message)


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


def broker_for(settings: Settings) -> Broker:
    """Redis pub/sub when the node has Redis (several processes), else in-process."""
    if settings.redis_url:
        return RedisBroker(settings.redis_url, namespace=f"flurfunk:{settings.domain}")
    return InProcessBroker()
