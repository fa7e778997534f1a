"""The delivery worker against real fake peers: outcomes, back-off, host health, allowlist."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from sqlalchemy import select, update

from federation.allowlist import Allowlist
from federation.client import FederationClient
from federation.httpsig_verify import body_digest_matches, parse, verify
from federation.keys import load_public_key
from models.base import utcnow
from models.db import Database
from models.federation import Delivery, InboxActivity, PeerHost
from models.migrate import upgrade
from models.settings import Settings
from models.tables import Account
from outbox.accounts import create_local_account
from outbox.claims import Heartbeat, release_all
from outbox.deliveries import enqueue
from outbox.worker import DeliveryWorker
from tests.peer import FakePeer, fake_peer

ALLOWED = ["sales.flurfunk.test", "dev.flurfunk.test"]


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'node.db'}"
    await _upgrade(url)
    database = Database(url)
    yield database
    await database.dispose()


async def _upgrade(url: str) -> None:
    import asyncio

    await asyncio.to_thread(upgrade, url)


@pytest.fixture
async def peer() -> AsyncIterator[FakePeer]:
    async with fake_peer() as running:
        yield running


SETTINGS = Settings(public_url="http://hq.flurfunk.test")


@pytest.fixture
async def clients() -> AsyncIterator[list[FederationClient]]:
    """Every client a test makes, closed afterwards (pooled connections stay open until then)."""
    made: list[FederationClient] = []
    yield made
    for client in made:
        await client.aclose()


def worker_for(
    clients: list[FederationClient], db: Database, allowed: list[str], route: dict[str, str]
) -> DeliveryWorker:
    client = FederationClient(lambda: Allowlist(allowed), connect_to=route)
    clients.append(client)
    return DeliveryWorker(db, client, SETTINGS)


def route_to(peer: FakePeer) -> dict[str, str]:
    return {h: f"127.0.0.1:{peer.port}" for h in (*ALLOWED, "evil.flurfunk.test")}


async def queue(db: Database, inboxes: list[str], allowed: list[str] = ALLOWED) -> Account:
    activity = {
        "id": "http://hq.flurfunk.test/users/ada/statuses/1/activity",
        "type": "Create",
        "actor": "http://hq.flurfunk.test/users/ada",
    }
    async with db.write() as session:
        ada = (
            await session.execute(select(Account).where(Account.username == "ada"))
        ).scalar_one_or_none()
        if ada is None:
            ada = await create_local_account(session, SETTINGS, username="ada", password_hash="x")
        await enqueue(session, Allowlist(allowed), actor=ada, activity=activity, inboxes=inboxes)
    return ada


async def states(db: Database) -> dict[str, tuple[str, int]]:
    async with db.read() as session:
        rows = (await session.execute(select(Delivery))).scalars()
        return {d.inbox_url: (d.state, d.attempts) for d in rows}


async def test_delivered_posts_are_signed_by_the_actor_and_done(
    db: Database, peer: FakePeer, clients: list[FederationClient]
) -> None:
    ada = await queue(db, ["http://sales.flurfunk.test/inbox", "http://dev.flurfunk.test/inbox"])
    worker = worker_for(clients, db, ALLOWED, route_to(peer))
    assert await worker.run_once() == 2
    assert await states(db) == {
        "http://sales.flurfunk.test/inbox": ("done", 1),
        "http://dev.flurfunk.test/inbox": ("done", 1),
    }
    for request in peer.received:
        signed = parse("POST", f"http://{request.headers['host']}{request.path}", request.headers)
        assert signed.key_id == "http://hq.flurfunk.test/users/ada#main-key"
        verify(signed, load_public_key(ada.public_key_pem or ""))
        assert body_digest_matches(request.headers, request.body) is True
        assert orjson.loads(request.body)["type"] == "Create"
    assert await worker.run_once() == 0  # nothing is sent twice


async def test_answers_are_classified(
    db: Database, peer: FakePeer, clients: list[FederationClient]
) -> None:
    peer.answer("/busy", 503, retry_after="120")
    peer.answer("/gone", 410)
    await queue(
        db,
        [
            "http://sales.flurfunk.test/busy",
            "http://sales.flurfunk.test/gone",
            "http://dev.flurfunk.test/inbox",
        ],
    )
    worker = worker_for(clients, db, ALLOWED, route_to(peer))
    await worker.run_once()
    assert await states(db) == {
        "http://sales.flurfunk.test/busy": ("pending", 1),
        "http://sales.flurfunk.test/gone": ("failed", 1),
        "http://dev.flurfunk.test/inbox": ("done", 1),
    }
    async with db.read() as session:
        busy = (
            await session.execute(select(Delivery).where(Delivery.inbox_url.endswith("/busy")))
        ).scalar_one()
    wait = (busy.next_attempt_at - utcnow()).total_seconds()
    assert 100 < wait <= 120  # Retry-After honoured
    assert await worker.run_once() == 0  # not due yet


async def test_unreachable_host_backs_off_then_recovers(
    db: Database, peer: FakePeer, clients: list[FederationClient]
) -> None:
    await queue(db, ["http://sales.flurfunk.test/inbox"])
    client = FederationClient(
        lambda: Allowlist(ALLOWED), connect_to={"sales.flurfunk.test": "127.0.0.1:9"}
    )  # closed port
    down = DeliveryWorker(db, client, SETTINGS)
    await down.run_once()
    assert await states(db) == {"http://sales.flurfunk.test/inbox": ("pending", 1)}
    async with db.read() as session:
        row = (await session.execute(select(Delivery))).scalar_one()
        host = await session.get(PeerHost, "sales.flurfunk.test")
    assert 3 < (row.next_attempt_at - utcnow()).total_seconds() < 7  # first retry after ~5 s
    assert host is not None
    assert host.failing_since is not None
    assert host.available  # one failure does not make a host unavailable

    async with db.write() as session:  # the retry is due; the host is back
        await session.execute(update(Delivery).values(next_attempt_at=utcnow()))
    up = worker_for(clients, db, ALLOWED, route_to(peer))
    assert await up.run_once() == 1
    assert await states(db) == {"http://sales.flurfunk.test/inbox": ("done", 2)}


async def test_host_failing_for_an_hour_is_probed_with_one_row(
    db: Database, peer: FakePeer, clients: list[FederationClient]
) -> None:
    await queue(db, [f"http://sales.flurfunk.test/inbox/{n}" for n in range(5)])
    async with db.write() as session:
        session.add(
            PeerHost(
                host="sales.flurfunk.test",
                available=False,
                failing_since=utcnow() - timedelta(hours=2),
                next_probe_at=utcnow() - timedelta(seconds=1),
            )
        )
    worker = worker_for(clients, db, ALLOWED, route_to(peer))
    assert await worker.run_once() == 1  # the probe
    assert len(peer.received) == 1
    # The probe succeeded: the host is available and its waiting rows are due at once.
    assert await worker.run_once() == 4
    assert {s for s, _ in (await states(db)).values()} == {"done"}


async def test_removed_host_gets_nothing(
    db: Database, peer: FakePeer, clients: list[FederationClient]
) -> None:
    await queue(
        db,
        ["http://sales.flurfunk.test/inbox", "http://evil.flurfunk.test/inbox"],
        allowed=[*ALLOWED, "evil.flurfunk.test"],
    )
    worker = worker_for(clients, db, ALLOWED, route_to(peer))  # evil was removed after queueing
    await worker.run_once()
    result = await states(db)
    assert result["http://evil.flurfunk.test/inbox"] == ("failed", 1)
    assert all(r.headers["host"] != "evil.flurfunk.test" for r in peer.received)


async def test_disallowed_inboxes_get_no_rows(db: Database) -> None:
    await queue(db, ["http://evil.flurfunk.test/inbox", "http://sales.flurfunk.test/inbox"])
    assert list(await states(db)) == ["http://sales.flurfunk.test/inbox"]


# --- claims of a worker that died ------------------------------------------------------------

HOUR = timedelta(hours=1)


def owned_worker(
    clients: list[FederationClient], db: Database, peer: FakePeer, owner: str
) -> DeliveryWorker:
    client = FederationClient(lambda: Allowlist(ALLOWED), connect_to=route_to(peer))
    clients.append(client)
    return DeliveryWorker(db, client, SETTINGS, lease=HOUR, owner=owner)


async def claimed_by(db: Database) -> dict[str, str | None]:
    async with db.read() as session:
        rows = (await session.execute(select(Delivery))).scalars()
        return {d.inbox_url: d.claimed_by for d in rows}


NOW = timedelta(0)


async def test_rows_of_a_worker_that_stopped_beating_go_to_another_at_once(
    db: Database, peer: FakePeer, clients: list[FederationClient]
) -> None:
    await queue(db, ["http://sales.flurfunk.test/inbox", "http://dev.flurfunk.test/inbox"])
    await Heartbeat(db, "dead").beat()
    _, claimed = await owned_worker(clients, db, peer, "dead").claim(utcnow())
    assert claimed == 2  # ... and then the worker is killed: nothing is ever recorded
    other = owned_worker(clients, db, peer, "alive")
    # A heartbeat a minute old is recent enough: the rows wait.
    assert await Heartbeat(db, "alive", dead_after=timedelta(minutes=1), settle=NOW).beat() == 0
    assert await other.run_once() == 0
    assert set((await claimed_by(db)).values()) == {"dead"}

    # As ten seconds later: the dead worker has missed five beats.
    assert await Heartbeat(db, "alive", dead_after=NOW, settle=NOW).beat() == 2
    assert await other.run_once() == 2  # although the lease has an hour to go
    assert await states(db) == {
        "http://sales.flurfunk.test/inbox": ("done", 1),
        "http://dev.flurfunk.test/inbox": ("done", 1),
    }
    assert set((await claimed_by(db)).values()) == {None}


async def test_a_worker_back_from_an_outage_judges_nobody_at_once(
    db: Database, peer: FakePeer, clients: list[FederationClient]
) -> None:
    await queue(db, ["http://sales.flurfunk.test/inbox"])
    await Heartbeat(db, "slow").beat()
    await owned_worker(clients, db, peer, "slow").claim(utcnow())
    back = Heartbeat(db, "back", dead_after=NOW)  # every other heartbeat looks old to it
    assert await back.beat() == 0  # it has not beaten long enough itself to judge
    assert set((await claimed_by(db)).values()) == {"slow"}


async def test_a_claim_whose_owner_never_beat_is_freed(
    db: Database, peer: FakePeer, clients: list[FederationClient]
) -> None:
    await queue(db, ["http://sales.flurfunk.test/inbox"])
    await owned_worker(clients, db, peer, "ghost").claim(utcnow())
    alive = Heartbeat(db, "alive", dead_after=timedelta(minutes=1), settle=NOW)
    assert await alive.beat() == 1
    assert await owned_worker(clients, db, peer, "alive").run_once() == 1


async def test_a_worker_that_stops_cleanly_hands_back_its_claims(
    db: Database, peer: FakePeer, clients: list[FederationClient]
) -> None:
    await queue(db, ["http://sales.flurfunk.test/inbox"])
    leaving = Heartbeat(db, "leaving")
    await leaving.beat()
    await owned_worker(clients, db, peer, "leaving").claim(utcnow())
    await leaving.leave()
    assert await claimed_by(db) == {"http://sales.flurfunk.test/inbox": None}
    assert await owned_worker(clients, db, peer, "next").run_once() == 1


async def claimed_inbox_row(db: Database, owner: str | None) -> None:
    now = utcnow()
    async with db.write() as session:
        session.add(
            InboxActivity(
                activity_uri="http://sales.flurfunk.test/activities/1",
                actor_uri="http://sales.flurfunk.test/users/bo",
                type="Like",
                payload="{}",
                signer_host="sales.flurfunk.test",
                received_at=now,
                next_attempt_at=now,
                locked_until=now + HOUR,
                claimed_by=owner,
            )
        )


async def inbox_row_is_free(db: Database) -> bool:
    async with db.read() as session:
        row = (await session.execute(select(InboxActivity))).scalar_one()
    return (row.locked_until, row.claimed_by) == (None, None)


async def test_inbox_rows_of_a_dead_worker_are_freed_too(db: Database) -> None:
    await claimed_inbox_row(db, "dead")
    assert await Heartbeat(db, "alive", settle=NOW).beat() == 1
    assert await inbox_row_is_free(db)


async def test_an_embedded_node_frees_every_claim_at_start(
    db: Database, peer: FakePeer, clients: list[FederationClient]
) -> None:
    await queue(db, ["http://sales.flurfunk.test/inbox", "http://dev.flurfunk.test/inbox"])
    await owned_worker(clients, db, peer, "before-the-crash").claim(utcnow())
    await claimed_inbox_row(db, None)  # an embedded node's claims have no owner
    embedded = DeliveryWorker(db, clients[0], SETTINGS, lease=HOUR)
    assert await embedded.run_once() == 0
    assert await release_all(db) == 3
    assert await embedded.run_once() == 2
    assert await inbox_row_is_free(db)
