"""A process killed (SIGKILL) while it holds a delivery: the delivery is made again at once,
not when its lease lapses.

The remote node is a fake peer that hangs on purpose (it records the POST and does not
answer), so the delivery is claimed and in flight when the process dies. The lease is set to
an hour: a delivery that arrives at all has been freed by the restart (an embedded node) or
by a live worker's heartbeat (workers), never by its lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from models.db import Database
from models.federation import Delivery
from tests.federation_kit import FakeActor, FedNode, Plan, network, peer_in_thread, post, wait_for
from tests.peer import FakePeer
from tests.scale_kit import SHARED_REDIS, ScaledNode, fresh_redis, scaled

REMOTE = "sales.flurfunk.test"
HOUR = {"FLURFUNK_CLAIM_LEASE_SECONDS": "3600"}
REDIS_DB = 11  # this test's Redis database


def received(peer: FakePeer, kind: str) -> list[dict[str, Any]]:
    posts = [orjson.loads(r.body) for r in list(peer.received) if r.method == "POST"]
    return [p for p in posts if p.get("type") == kind]


def deliveries(node: FedNode) -> list[tuple[str, bool]]:
    """(state, claimed) of every delivery row in the node's database."""
    return [(state, locked is not None) for state, locked, _ in delivery_rows(node)]


def delivery_rows(node: FedNode) -> list[tuple[str, Any, str | None]]:
    async def read() -> list[tuple[str, Any, str | None]]:
        db = Database(node.database_url, pool_size=1)
        try:
            async with db.read() as session:
                rows = await session.execute(
                    select(Delivery.state, Delivery.locked_until, Delivery.claimed_by)
                )
                return [tuple(row) for row in rows]  # type: ignore[misc]
        finally:
            await db.dispose()

    return asyncio.run(read())


def holder(node: ScaledNode) -> subprocess.Popen[str]:
    """The worker process that holds the node's claimed delivery (owner ids carry the pid)."""
    owners = {owner for _, locked, owner in delivery_rows(node) if locked and owner}
    assert len(owners) == 1, owners
    pid = int(owners.pop().split(":")[1])
    return next(w for w in node.workers if w.pid == pid)


@contextlib.contextmanager
def hung_peer_with_a_follower() -> Iterator[tuple[FakePeer, FakeActor]]:
    with peer_in_thread() as peer:
        bob = FakeActor.generate(f"{REMOTE}:{peer.port}", "bob")
        bob.publish(peer)
        yield peer, bob


def plan(peer: FakePeer, bob: FakeActor) -> dict[str, Plan]:
    return {"hq": Plan(allow=(REMOTE,), stand_ins={bob.host: peer.port}, env=HOUR)}


def a_post_held_in_flight(hq: FedNode, peer: FakePeer, bob: FakeActor) -> str:
    """bob follows ann on hq; ann posts, and the peer holds hq's delivery of it."""
    ann = hq.create_user("ann")
    assert bob.post(hq, bob.activity("Follow", hq.actor_uri(ann))).status_code == 202
    wait_for(lambda: received(peer, "Accept"), "hq's Accept of bob's follow")
    peer.hold()
    uri = str(post(hq, ann, "sent while hq goes down")["uri"])
    wait_for(lambda: received(peer, "Create"), "the post on its way to the peer")
    return uri


def arrived(peer: FakePeer, uri: str) -> bool:
    return any(c["object"]["id"] == uri for c in received(peer, "Create"))


def test_an_embedded_node_killed_mid_delivery_makes_it_again_right_after_restart(
    tmp_path: Path,
) -> None:
    with (
        hung_peer_with_a_follower() as (peer, bob),
        network(tmp_path, "sqlite", plan(peer, bob)) as net,
    ):
        hq = net["hq"]
        uri = a_post_held_in_flight(hq, peer, bob)
        hq.kill()
        assert ("pending", True) in deliveries(hq)  # claimed for an hour by a dead process
        peer.received.clear()
        peer.release()
        hq.start()
        wait_for(lambda: arrived(peer, uri), "the post, sent again after the restart")
        wait_for(lambda: all(s == "done" for s, _ in deliveries(hq)), "every delivery done")


@dataclass
class OneWebProcess(ScaledNode):
    """One web process (no uvicorn supervisor) and its workers: the web side is not tested."""

    web_processes: int = 1


@pytest.mark.postgres
def test_a_worker_killed_mid_delivery_leaves_it_to_another_worker(tmp_path: Path) -> None:
    redis = f"{SHARED_REDIS}/{REDIS_DB}"
    fresh_redis(redis)
    with hung_peer_with_a_follower() as (peer, bob):
        plans = {
            name: dataclasses.replace(p, env={**p.env, "FLURFUNK_REDIS_URL": redis})
            for name, p in plan(peer, bob).items()
        }
        with network(tmp_path, "postgres", plans, kind=OneWebProcess) as net:
            hq = scaled(net, "hq")
            hq.start_worker()  # two workers: either may take the post
            uri = a_post_held_in_flight(hq, peer, bob)
            dead = holder(hq)
            dead.send_signal(signal.SIGKILL)
            dead.wait()
            hq.workers.remove(dead)
            assert ("pending", True) in deliveries(hq)
            peer.received.clear()
            peer.release()
            # The live worker takes over once the dead one has missed its heartbeats.
            wait_for(lambda: arrived(peer, uri), "the post, sent by the other worker", 60)
            wait_for(lambda: all(s == "done" for s, _ in deliveries(hq)), "every delivery done")
