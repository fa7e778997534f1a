"""The event broker: in-process, and across processes through a real Redis (database 1).

Two RedisBroker instances stand for two processes: what one publishes, the other's
subscribers receive. Pub/sub ignores the database index, so every test uses a namespace of
its own.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from models.broker import Broker, InProcessBroker, Subscription, SubscriptionDropped
from models.redis_broker import RedisBroker
from tests.kit import require_service

REDIS_URL = "redis://127.0.0.1:6379/1"
WAIT = 5.0


async def _redis_problem() -> str:
    client = aioredis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except (aioredis.RedisError, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        await client.aclose()
    return ""


@pytest.fixture
async def brokers() -> AsyncIterator[tuple[RedisBroker, RedisBroker]]:
    """Two brokers on one Redis, as two web processes of one node would have."""
    problem = await _redis_problem()
    require_service("Redis", not problem, problem)
    namespace = f"flurfunk-test:{secrets.token_hex(4)}"
    one = RedisBroker(REDIS_URL, namespace=namespace)
    other = RedisBroker(REDIS_URL, namespace=namespace)
    try:
        yield one, other
    finally:
        await one.close()
        await other.close()


async def _next(subscription: Subscription) -> tuple[str, bytes]:
    return await asyncio.wait_for(subscription.get(), WAIT)


async def _publish_until_heard(broker: Broker, subscription: Subscription, channel: str) -> int:
    """Publish numbered messages until one arrives (what is published while a connection is
    being re-established is lost); returns how many were published."""
    for attempt in range(200):
        await broker.publish(channel, f"probe-{attempt}".encode())
        try:
            await asyncio.wait_for(subscription.get(), 0.1)
        except TimeoutError:
            continue
        return attempt + 1
    raise AssertionError(f"nothing published on {channel} arrived within 200 attempts")


async def test_in_process_broker_delivers_to_the_channels_subscribed() -> None:
    broker = InProcessBroker()
    async with broker.subscribe() as listener:
        await listener.add("home:1", "public")
        await broker.publish("home:2", b"not mine")
        await broker.publish("public", b"one")
        await broker.publish("home:1", b"two")
        assert await _next(listener) == ("public", b"one")
        assert await _next(listener) == ("home:1", b"two")

        await listener.remove("public")
        await broker.publish("public", b"gone")
        await broker.publish("home:1", b"three")
        assert await _next(listener) == ("home:1", b"three")
    assert broker.subscriber_count == 0


async def test_a_listener_that_falls_behind_is_dropped() -> None:
    broker = InProcessBroker()
    slow = broker.subscribe(queue_size=3)
    keeping_up = broker.subscribe(queue_size=100)
    await slow.add("public")
    await keeping_up.add("public")
    for n in range(5):
        await broker.publish("public", str(n).encode())
    with pytest.raises(SubscriptionDropped):
        await _next(slow)
    with pytest.raises(SubscriptionDropped):
        await _next(slow)  # and stays dropped
    assert [(await _next(keeping_up))[1] for _ in range(5)] == [b"0", b"1", b"2", b"3", b"4"]
    await slow.close()
    await keeping_up.close()


async def test_closing_the_broker_ends_every_subscription() -> None:
    broker = InProcessBroker()
    listener = broker.subscribe()
    await listener.add("public")
    await broker.close()
    with pytest.raises(SubscriptionDropped):
        await _next(listener)
    late = broker.subscribe()  # a stream opened while the process stops ends at once
    with pytest.raises(SubscriptionDropped):
        await _next(late)


async def test_a_message_published_in_one_process_reaches_listeners_in_another(
    brokers: tuple[RedisBroker, RedisBroker],
) -> None:
    one, other = brokers
    async with other.subscribe() as there, one.subscribe() as here:
        await there.add("hashtag:cats")
        await here.add("hashtag:cats")
        await one.publish("hashtag:cats", b"meow")
        assert await _next(there) == ("hashtag:cats", b"meow")
        assert await _next(here) == ("hashtag:cats", b"meow")
        await other.publish_many([("hashtag:dogs", b"woof"), ("hashtag:cats", b"purr")])
        assert await _next(there) == ("hashtag:cats", b"purr")


async def test_unsubscribed_channels_stay_silent(
    brokers: tuple[RedisBroker, RedisBroker],
) -> None:
    one, other = brokers
    async with other.subscribe() as listener, other.subscribe() as neighbour:
        await listener.add("home:7", "public")
        await neighbour.add("public")
        await listener.remove("public")
        await one.publish("public", b"for the neighbour")
        await one.publish("home:7", b"for the listener")
        assert await _next(neighbour) == ("public", b"for the neighbour")
        assert await _next(listener) == ("home:7", b"for the listener")

        await neighbour.close()  # nobody in `other` listens to "public" any more
        await listener.add("public")  # and now someone does again
        await one.publish("public", b"again")
        assert await _next(listener) == ("public", b"again")


async def test_namespaces_keep_nodes_sharing_a_redis_apart(
    brokers: tuple[RedisBroker, RedisBroker],
) -> None:
    one, _ = brokers
    elsewhere = RedisBroker(REDIS_URL, namespace=f"flurfunk-test:{secrets.token_hex(4)}")
    try:
        async with elsewhere.subscribe() as foreign, one.subscribe() as own:
            await foreign.add("public")
            await own.add("public")
            await one.publish("public", b"ours")
            assert await _next(own) == ("public", b"ours")
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(foreign.get(), 0.3)
    finally:
        await elsewhere.close()


async def _kill_connections_of(name_prefix: str) -> int:
    """CLIENT KILL the connections whose client name starts with `name_prefix`."""
    admin = aioredis.Redis.from_url(REDIS_URL)
    try:
        clients = await admin.client_list()
        killed = 0
        for client in clients:
            if client.get("name", "").startswith(name_prefix):
                killed += int(await admin.client_kill_filter(_id=client["id"]))
        return killed
    finally:
        await admin.aclose()


async def test_listeners_keep_their_streams_when_redis_drops_the_connections(
    brokers: tuple[RedisBroker, RedisBroker],
) -> None:
    one, other = brokers
    async with other.subscribe() as listener:
        await listener.add("public", "home:3")
        await one.publish("public", b"before")
        assert await _next(listener) == ("public", b"before")

        killed = await _kill_connections_of(f"flurfunk-{other.origin}")
        killed += await _kill_connections_of(f"flurfunk-{one.origin}")
        assert killed >= 2  # the subscriber connection of one, a publisher connection of the other

        await _publish_until_heard(one, listener, "home:3")
        await one.publish("public", b"after")
        # probes published while the subscriber reconnected may still trail in
        channel, message = await _next(listener)
        while message.startswith(b"probe-"):
            channel, message = await _next(listener)
        assert (channel, message) == ("public", b"after")
