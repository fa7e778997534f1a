"""Threads from another node that would never end: notes that reply to each other, and chains
of replies far deeper than anyone reads.

One real node (hq) allows `sales.flurfunk.test`, played by a fake remote (a small real HTTP
server) that serves the notes and signs what it posts. What must hold: the post that mentions
someone here is stored and notifies them, each note is stored once, a search that resolves
any of the notes answers, and fetching stops.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from inbox.notes import MAX_DEPTH
from tests.federation_kit import (
    AS_CONTEXT,
    FakeActor,
    FakeRemote,
    FedNode,
    fake_remote,
    node_beside,
    notified,
    wait_for,
)
from tests.kit import User

AS = "application/activity+json"


@pytest.fixture(scope="module")
def remote() -> Iterator[FakeRemote]:
    with fake_remote() as remote:
        yield remote


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def hq(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, remote: FakeRemote
) -> Iterator[FedNode]:
    tmp = tmp_path_factory.mktemp(f"threads-{request.param}")
    with node_beside(remote, tmp, request.param) as node:
        yield node


def deliver(node: FedNode, actor: FakeActor, document: dict[str, Any]) -> None:
    create = {
        "@context": AS_CONTEXT,
        "id": document["id"] + "/activity",
        "type": "Create",
        "actor": actor.uri,
        "to": document["to"],
        "cc": document["cc"],
        "object": document,
    }
    answer = actor.post(node, create)
    assert answer.status_code == 202, answer.text


def mentioning(node: FedNode, user: User) -> dict[str, Any]:
    return {"tag": [{"type": "Mention", "href": node.actor_uri(user), "name": f"@{user.name}"}]}


def resolved(node: FedNode, user: User, uri: str) -> list[dict[str, Any]]:
    """The statuses a search with resolve=true finds for `uri`; the search must answer 200."""
    answer = node.api(
        user, "GET", "/api/v2/search", params={"q": uri, "resolve": "true", "type": "statuses"}
    )
    assert answer.status_code == 200, answer.text
    return list(answer.json()["statuses"])


def context(node: FedNode, user: User, status_id: str) -> dict[str, list[dict[str, Any]]]:
    answer = node.api(user, "GET", f"/api/v1/statuses/{status_id}/context")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_notes_that_reply_to_each_other_are_stored_once(hq: FedNode, remote: FakeRemote) -> None:
    ann, eve = hq.create_user("ann"), remote.actor("eve")
    first = remote.note(eve, "<p>as I said below</p>", **mentioning(hq, ann))
    second = remote.note(eve, "<p>as I said above</p>", inReplyTo=first["id"])
    first["inReplyTo"] = second["id"]
    remote.serve(first, second)

    deliver(hq, eve, first)
    mention = wait_for(
        lambda: notified(hq, ann, "mention", f"{eve.name}@{remote.host}", first["id"]),
        "ann's notification of the post that mentions her",
    )[0]
    # The cycle is cut where it closes: the delivered note shows the note it replies to,
    # and that one (whose parent is the delivered note itself) stays without a parent.
    ancestors = context(hq, ann, mention["status"]["id"])["ancestors"]
    assert [s["uri"] for s in ancestors] == [second["id"]]
    assert ancestors[0]["in_reply_to_id"] is None

    for uri in (first["id"], second["id"]):
        assert [s["uri"] for s in resolved(hq, ann, uri)] == [uri]


def test_a_note_that_replies_to_itself_is_stored_once(hq: FedNode, remote: FakeRemote) -> None:
    ann, eve = hq.create_user("ann"), remote.actor("eve")
    looped = remote.note(eve, "<p>see this post</p>", **mentioning(hq, ann))
    looped["inReplyTo"] = looped["id"]
    remote.serve(looped)

    deliver(hq, eve, looped)
    mention = wait_for(
        lambda: notified(hq, ann, "mention", f"{eve.name}@{remote.host}", looped["id"]),
        "ann's notification of a post that replies to itself",
    )[0]
    assert mention["status"]["in_reply_to_id"] is None
    assert [s["uri"] for s in resolved(hq, ann, looped["id"])] == [looped["id"]]


def test_a_search_resolves_either_note_of_a_cycle(hq: FedNode, remote: FakeRemote) -> None:
    ann, eve = hq.create_user("ann"), remote.actor("eve")
    first = remote.note(eve, "<p>ping</p>")
    second = remote.note(eve, "<p>pong</p>", inReplyTo=first["id"])
    first["inReplyTo"] = second["id"]
    remote.serve(first, second)

    found = resolved(hq, ann, second["id"])
    assert [s["uri"] for s in found] == [second["id"]]
    assert [s["uri"] for s in context(hq, ann, found[0]["id"])["ancestors"]] == [first["id"]]
    assert [s["uri"] for s in resolved(hq, ann, first["id"])] == [first["id"]]
    assert [s["uri"] for s in resolved(hq, ann, second["id"])] == [second["id"]]


def test_a_very_deep_chain_of_replies_is_fetched_only_so_far(
    hq: FedNode, remote: FakeRemote
) -> None:
    ann, eve = hq.create_user("ann"), remote.actor("eve")
    chain = [remote.note(eve, "<p>reply 0</p>")]
    for n in range(1, 300):
        chain.append(remote.note(eve, f"<p>reply {n}</p>", inReplyTo=chain[-1]["id"]))
    last = {**chain[-1], **mentioning(hq, ann)}
    remote.serve(*chain[:-1], last)

    deliver(hq, eve, last)
    mention = wait_for(
        lambda: notified(hq, ann, "mention", f"{eve.name}@{remote.host}", last["id"]),
        "ann's notification at the end of a deep thread",
    )[0]
    ancestors = context(hq, ann, mention["status"]["id"])["ancestors"]
    assert [s["uri"] for s in ancestors] == [n["id"] for n in chain[-1 - MAX_DEPTH : -1]]
    assert remote.fetches_of(chain[:-1]) == MAX_DEPTH

    # A search for a note far up the chain stores it, with at most as many ancestors again.
    middle = chain[150]
    assert [s["uri"] for s in resolved(hq, ann, middle["id"])] == [middle["id"]]
