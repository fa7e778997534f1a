"""Receiving at the inbox under concurrency: every accepted activity is stored exactly once.

A real node allows one fake remote host, whose actor (served by a FakePeer in a thread) signs
Create activities; many are POSTed at once so that the node stores them in shared
transactions (group commit). What the sender sees (the answers) must match what the node
keeps (the rows of the received activities, read from the node's database).
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select

from federation.httpsig import sign_request
from federation.keys import load_private_key
from models.db import Database
from models.federation import InboxActivity
from tests.federation_kit import PUBLIC, FakeActor, FedNode, Plan, network, peer_in_thread
from tests.peer import FakePeer

REMOTE = "remote.flurfunk.test"


@pytest.fixture(scope="module")
def peer() -> Iterator[FakePeer]:
    with peer_in_thread() as running:
        yield running


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def hq(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, peer: FakePeer
) -> Iterator[FedNode]:
    plans = {"hq": Plan(allow=(REMOTE,), stand_ins={REMOTE: peer.port})}
    with network(tmp_path_factory.mktemp("inbox"), request.param, plans) as net:
        yield net["hq"]


@pytest.fixture
def ana(peer: FakePeer) -> FakeActor:
    actor = FakeActor.generate(REMOTE, f"ana{random.randrange(1 << 24):06x}")
    actor.publish(peer)
    return actor


def create(actor: FakeActor, note_id: str, activity_id: str | None = None) -> dict[str, Any]:
    note = {
        "id": note_id,
        "type": "Note",
        "attributedTo": actor.uri,
        "content": "<p>Quarterly numbers are in.</p>",
        "to": [PUBLIC],
    }
    activity = actor.activity("Create", note, to=[PUBLIC])
    activity["id"] = activity_id or note_id + "/activity"
    return activity


def signed(
    actor: FakeActor, node: FedNode, activity: dict[str, Any]
) -> tuple[bytes, dict[str, str]]:
    body = orjson.dumps(activity)
    headers = sign_request(
        "POST",
        node.public_url + "/inbox",
        {"content-type": "application/activity+json", "host": node.domain},
        actor.key_id,
        load_private_key(actor.private_pem),
        body,
    )
    return body, headers


async def post_at_once(node: FedNode, requests: list[tuple[bytes, dict[str, str]]]) -> list[int]:
    """POST every request concurrently, each on a connection of its own; the answers in order."""
    limits = httpx.Limits(max_connections=len(requests))
    async with httpx.AsyncClient(base_url=node.url, timeout=30, limits=limits) as client:
        answers = await asyncio.gather(
            *(client.post("/inbox", content=body, headers=headers) for body, headers in requests)
        )
    return [answer.status_code for answer in answers]


async def stored(node: FedNode, actor: FakeActor) -> Counter[str]:
    """How many rows the node keeps for each activity id of `actor`."""
    db = Database(node.database_url)
    try:
        async with db.read() as session:
            rows = await session.execute(
                select(InboxActivity.activity_uri).where(
                    InboxActivity.activity_uri.startswith(actor.uri + "/", autoescape=True)
                )
            )
            return Counter(rows.scalars())
    finally:
        await db.dispose()


async def test_concurrent_duplicates_are_all_accepted_and_stored_once(
    hq: FedNode, ana: FakeActor
) -> None:
    activities = [create(ana, f"{ana.uri}/statuses/dup{n}") for n in range(5)]
    requests = [signed(ana, hq, a) for a in activities for _ in range(8)]
    random.Random(7).shuffle(requests)

    assert await post_at_once(hq, requests) == [202] * len(requests)
    assert await post_at_once(hq, requests[:5]) == [202] * 5  # again, in a later transaction

    assert await stored(hq, ana) == Counter(a["id"] for a in activities)


async def test_an_activity_the_database_refuses_costs_only_itself(
    hq: FedNode, ana: FakeActor
) -> None:
    good = [create(ana, f"{ana.uri}/statuses/ok{n}") for n in range(30)]
    # PostgreSQL cannot hold a NUL character in text (SQLite can): if the node stores this
    # activity in the same transaction as others, that transaction fails.
    odd = create(ana, f"{ana.uri}/statuses/odd", f"{ana.uri}/activities/nul\u0000here")
    activities = [*good[:15], odd, *good[15:]]

    answers = await post_at_once(hq, [signed(ana, hq, a) for a in activities])

    kept = await stored(hq, ana)
    assert answers[:15] + answers[16:] == [202] * 30
    assert all(kept[a["id"]] == 1 for a in good)
    # Accepted exactly when kept; refused with a 4xx (never a 5xx) when it cannot be kept.
    assert (answers[15], kept[odd["id"]]) in ((202, 1), (400, 0))
    if hq.database_url.startswith("postgresql"):
        assert answers[15] == 400


async def test_a_rotated_key_is_used_at_once_and_a_foreign_key_never(
    hq: FedNode, ana: FakeActor, peer: FakePeer
) -> None:
    first = create(ana, f"{ana.uri}/statuses/before")
    assert await post_at_once(hq, [signed(ana, hq, first)]) == [202]

    # Someone else signs with ana's keyId while ana's key is remembered: refused.
    forger = FakeActor.generate(REMOTE, ana.name)
    forged = create(ana, f"{ana.uri}/statuses/forged")
    assert await post_at_once(hq, [signed(forger, hq, forged)]) == [401]

    # ana rotates her key: the node notices at once (the remembered key fails, it re-fetches).
    rotated = FakeActor.generate(REMOTE, ana.name)
    rotated.publish(peer)
    after = create(rotated, f"{ana.uri}/statuses/after")
    assert await post_at_once(hq, [signed(rotated, hq, after)]) == [202]

    assert await stored(hq, ana) == Counter([first["id"], after["id"]])
