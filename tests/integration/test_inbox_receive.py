"""Receiving at the inbox under concurrency: every accepted activity is stored exactly once.

A real node allows one fake remote host, whose actor (served by a FakePeer in a thread) signs
Create activities; many are POSTed at once so that the node stores them in shared
transactions (group commit). What the sender sees (the answers) must match what the node
keeps (the rows of the received activities, read from the node's database).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpsig
import httpx
import orjson
import pytest
from sqlalchemy import select

from federation.httpsig_sign import POST_HEADERS, http_date, sign_request
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
    actor: FakeActor, node: FedNode, activity: dict[str, Any], date: str | None = None
) -> tuple[bytes, dict[str, str]]:
    return signed_body(actor, node, orjson.dumps(activity), date)


def signed_body(
    actor: FakeActor, node: FedNode, body: bytes, date: str | None = None
) -> tuple[bytes, dict[str, str]]:
    headers = {"content-type": "application/activity+json", "host": node.domain}
    if date is not None:
        headers["date"] = date
    headers = sign_request(
        "POST",
        node.public_url + "/inbox",
        headers,
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


# --- refused before anything is stored (issue 8) -----------------------------------------------


def get_signed(
    actor: FakeActor, node: FedNode, path: str, date: str | None = None
) -> dict[str, str]:
    """Headers of a GET of `path` that `actor` signed (at `date`), as our nodes sign them."""
    headers = {"accept": "application/activity+json", "host": node.domain}
    if date is not None:
        headers["date"] = date
    return sign_request("GET", node.public_url + path, headers, actor.key_id, actor.private_key)


def cavage_signature(
    actor: FakeActor, path: str, headers: dict[str, str], covered: list[str]
) -> str:
    """A Signature header over `covered` only, made by the independent httpsig library."""
    signer = httpsig.HeaderSigner(
        actor.key_id,
        actor.private_pem.encode(),
        algorithm="rsa-sha256",
        headers=covered,
        sign_header="signature",
    )
    unsigned = {k: v for k, v in headers.items() if k != "signature"}
    return str(signer.sign(unsigned, method="POST", path=path)["signature"])


def tracebacks(node: FedNode) -> int:
    return node.log_path.read_text().count("Traceback")


async def test_a_captured_signature_with_a_fresh_created_appended_is_refused(
    hq: FedNode, ana: FakeActor
) -> None:
    colleague = hq.create_user("reader")
    outbox = f"/users/{colleague.name}/outbox"
    week_ago = http_date(time.time() - 7 * 24 * 3600)
    fresh = f",created={int(time.time())}"
    async with httpx.AsyncClient(base_url=hq.url, timeout=30) as client:
        assert (await client.get(outbox, headers=get_signed(ana, hq, outbox))).status_code == 200

        captured = get_signed(ana, hq, outbox, date=week_ago)
        replayed = dict(captured, signature=captured["signature"] + fresh)
        answer = await client.get(outbox, headers=replayed)
        assert answer.status_code == 401, answer.text

        activity = create(ana, f"{ana.uri}/statuses/replayed")
        body, headers = signed(ana, hq, activity, date=week_ago)
        headers["signature"] += fresh
        answer = await client.post("/inbox", content=body, headers=headers)
        assert answer.status_code == 401, answer.text
    assert await stored(hq, ana) == Counter()


async def test_signatures_that_leave_the_host_or_target_open_are_refused(
    hq: FedNode, ana: FakeActor
) -> None:
    activity = create(ana, f"{ana.uri}/statuses/uncovered")
    body = orjson.dumps(activity)
    requests = []
    for left_out in ("(request-target)", "host", "digest"):
        _, headers = signed(ana, hq, activity)
        covered = [h for h in POST_HEADERS if h != left_out]
        headers["signature"] = cavage_signature(ana, "/inbox", headers, covered)
        requests.append((body, headers))
    assert await post_at_once(hq, requests) == [401, 401, 401]
    assert await stored(hq, ana) == Counter()


async def test_a_key_id_that_is_no_url_is_refused_without_a_traceback(
    hq: FedNode, ana: FakeActor
) -> None:
    colleague = hq.create_user("reader")
    outbox = f"/users/{colleague.name}/outbox"
    before = tracebacks(hq)
    for key_id in ("http://[::1", "http://[::1]x/", "https://h:99999/k", "not a url"):

        def bad_key(headers: dict[str, str], key_id: str = key_id) -> dict[str, str]:
            return dict(headers, signature=headers["signature"].replace(ana.key_id, key_id))

        get_headers = bad_key(get_signed(ana, hq, outbox))
        body, post_headers = signed(ana, hq, create(ana, f"{ana.uri}/statuses/badkey"))
        async with httpx.AsyncClient(base_url=hq.url, timeout=30) as client:
            fetched = await client.get(outbox, headers=get_headers)
            posted = await client.post("/inbox", content=body, headers=bad_key(post_headers))
        assert (fetched.status_code, posted.status_code) == (401, 401), key_id
        assert "error" in posted.json()
    assert tracebacks(hq) == before
    assert await stored(hq, ana) == Counter()


async def test_json_nested_beyond_the_limit_is_400_before_anything_reads_it(
    hq: FedNode, ana: FakeActor
) -> None:
    before = tracebacks(hq)
    # Built as text: orjson itself refuses to write more than 254 levels, and reads 1024.
    nested = create(ana, f"{ana.uri}/statuses/deep")
    nested["object"]["source"] = "DEEP"
    deep = b'{"content":' * 300 + b'"the bottom"' + b"}" * 300
    nested_body, _ = signed(ana, hq, nested)
    nested_body = nested_body.replace(b'"DEEP"', deep)
    _, nested_headers = signed_body(ana, hq, nested_body)
    shallow = create(ana, f"{ana.uri}/statuses/shallow")
    shallow["object"]["source"] = {"a": {"b": {"c": "fine"}}}
    answers = await post_at_once(hq, [(nested_body, nested_headers), signed(ana, hq, shallow)])
    assert answers == [400, 202]
    assert await stored(hq, ana) == Counter([shallow["id"]])
    assert tracebacks(hq) == before
