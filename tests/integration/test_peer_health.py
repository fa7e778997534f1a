"""Peer health as the admin page reads it: attempts counted per host and hour by the real
delivery worker against a real fake peer, and a failed delivery put back in the queue."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from federation.client import FederationClient
from models.base import utcnow
from models.db import Database
from models.federation import Delivery, PeerDeliveryHour, PeerHost
from outbox.deliveries import retry_failed
from outbox.hosts import count_attempts, forget_old_hours, hour_of
from tests.integration.db_urls import database_url  # noqa: F401 (a fixture)
from tests.integration.test_delivery_worker import (
    ALLOWED,
    clients,  # noqa: F401 (a fixture)
    peer,  # noqa: F401 (a fixture)
    queue,
    route_to,
    worker_for,
)
from tests.peer import FakePeer
from web.delivery_report import HOURS, peer_health


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:  # noqa: F811
    database = Database(database_url)
    yield database
    await database.dispose()


async def make_due(db: Database) -> None:
    async with db.write() as session:
        await session.execute(
            update(Delivery)
            .where(Delivery.state == "pending")
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )


async def test_attempts_are_counted_per_host_and_hour(
    db: Database,
    peer: FakePeer,  # noqa: F811
    clients: list[FederationClient],  # noqa: F811
) -> None:
    peer.answer("/busy", 503)
    await queue(
        db,
        [
            "http://sales.flurfunk.test/inbox",
            "http://sales.flurfunk.test/busy",
            "http://dev.flurfunk.test/inbox",
        ],
    )
    worker = worker_for(clients, db, ALLOWED, route_to(peer))
    assert await worker.run_once() == 3
    await make_due(db)
    assert await worker.run_once() == 1  # the 503 again: added to the same hour's counter

    now = utcnow()
    async with db.read() as session:
        health = {p.host: p for p in await peer_health(session, now)}
    assert set(health) == {"sales.flurfunk.test", "dev.flurfunk.test"}
    sales = health["sales.flurfunk.test"]
    assert (sales.delivered_today, sales.failed_today) == (1, 2)
    assert len(sales.hours) == HOURS
    assert sales.hours[-1].hour == hour_of(now)
    assert (sales.hours[-1].delivered, sales.hours[-1].failed) == (1, 2)
    assert sum(h.delivered + h.failed for h in sales.hours[:-1]) == 0
    assert (sales.pending, sales.retrying, sales.failed) == (1, 1, 0)
    assert sales.next_retry_at is not None
    assert sales.next_retry_at > now
    assert sales.last_success_at is not None
    assert sales.failing_since is not None  # the last attempt alone answered 503
    dev = health["dev.flurfunk.test"]
    assert (dev.delivered_today, dev.failed_today, dev.pending) == (1, 0, 0)
    assert dev.next_retry_at is None


async def test_counters_of_several_workers_add_up_and_old_hours_drop_out(db: Database) -> None:
    now = utcnow()
    async with db.write() as session:
        await count_attempts(session, Counter({"a.test": 2}), Counter({"a.test": 1}), now)
    async with db.write() as session:
        await count_attempts(session, Counter({"a.test": 3}), Counter(), now)
    async with db.write() as session:
        long_ago = now - timedelta(hours=HOURS)
        await count_attempts(session, Counter({"a.test": 100}), Counter(), long_ago)
        earlier = now - timedelta(hours=HOURS - 1)
        await count_attempts(session, Counter(), Counter({"a.test": 4}), earlier)
    async with db.read() as session:
        [peer_a] = await peer_health(session, now)
    assert (peer_a.delivered_today, peer_a.failed_today) == (5, 5)
    assert (peer_a.hours[0].failed, peer_a.hours[-1].delivered) == (4, 5)

    async with db.write() as session:
        await count_attempts(session, Counter({"a.test": 1}), Counter(), now - timedelta(days=8))
        await forget_old_hours(session, now)
        kept = (await session.execute(select(PeerDeliveryHour.hour))).scalars().all()
    assert sorted(kept) == sorted([hour_of(now), hour_of(long_ago), hour_of(earlier)])


async def test_a_failed_delivery_is_queued_again_at_once(
    db: Database,
    peer: FakePeer,  # noqa: F811
    clients: list[FederationClient],  # noqa: F811
) -> None:
    peer.answer("/gone", 410)
    await queue(db, ["http://sales.flurfunk.test/gone"])
    worker = worker_for(clients, db, ALLOWED, route_to(peer))
    await worker.run_once()
    async with db.write() as session:
        failed = (await session.execute(select(Delivery))).scalar_one()
        assert failed.state == "failed"
        # As if the host had been down for hours: the retry must not wait for its probe.
        host = await session.get(PeerHost, "sales.flurfunk.test")
        assert host is not None
        host.available = False
        host.next_probe_at = utcnow() + timedelta(minutes=10)
    async with db.read() as session:
        [sales] = await peer_health(session, utcnow())
    assert (sales.failed, sales.pending, sales.available) == (1, 0, False)

    async with db.write() as session:
        assert await retry_failed(session, failed.id) is not None
    async with db.write() as session:
        assert await retry_failed(session, failed.id) is None  # pending now: nothing to do
        assert await retry_failed(session, 12345) is None
    peer.answer("/gone", 202)
    # Another worker: this one remembers it found the host alive a moment ago.
    assert await worker_for(clients, db, ALLOWED, route_to(peer)).run_once() == 1
    async with db.read() as session:
        row = (await session.execute(select(Delivery))).scalar_one()
        assert (row.state, row.attempts) == ("done", 2)
        [sales] = await peer_health(session, utcnow())
    assert (sales.failed, sales.available, sales.delivered_today) == (0, True, 1)
