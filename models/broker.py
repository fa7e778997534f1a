"""The event broker: what one process publishes, the listeners of every process hear.

A channel is a plain name (`home:123`, `public:local`, `hashtag:cats`); a message is a few
bytes. A listener holds one `Subscription` whose channels it can add and remove; messages for
them wait in a bounded queue, and a listener that falls `queue_size` messages behind is dropped
(`get()` raises `SubscriptionDropped`) rather than letting its backlog grow without bound.

`InProcessBroker` serves one process. `RedisBroker` (models.redis_broker, imported only by a
node with Redis) carries messages between processes over Redis pub/sub. Publishing never
raises: a failure is logged and the message dropped, since what it announces has already
happened.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Iterable, Sequence
from types import TracebackType

from models.settings import Settings

log = logging.getLogger("flurfunk.broker")

QUEUE_SIZE = 1000  # messages waiting for one listener before it is dropped

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

    def listened(self, prefix: str) -> list[str]:
        """The channels starting with `prefix` that someone in this process listens to."""
        return [c for c in self._listeners if c.startswith(prefix)]

    def deliver_here(self, channel: str, message: bytes) -> None:
        """Hand a message to this process's listeners only (what it learned by itself)."""
        self._dispatch(channel, message)

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


def broker_for(settings: Settings) -> Broker:
    """Redis pub/sub when the node has Redis (several processes), else in-process."""
    if settings.redis_url:
        from models.redis_broker import RedisBroker

        return RedisBroker(settings.redis_url, namespace=f"flurfunk:{settings.domain}")
    return InProcessBroker()
