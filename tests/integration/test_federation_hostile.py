"""A real node's inbox against hostile input from a fake peer that signs what it likes.

mallory.flurfunk.test is allowed (its actor document is served by a fake peer); evil.flurfunk
.test is not, and its address is a socket that counts connections. Every refused request must
change nothing: the Like each one carries never counts, and a valid Like sent afterwards does.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from federation.httpsig_sign import digest_header
from tests.federation_kit import (
    PUBLIC,
    FakeActor,
    FedNode,
    Plan,
    network,
    notified,
    peer_in_thread,
    post,
    stale_date,
    status,
    wait_for,
)
from tests.kit import User
from tests.peer import FakePeer

MALLORY = "mallory.flurfunk.test"
TRENT = "trent.flurfunk.test"  # allowed, but nobody signs for it here
EVIL = "evil.flurfunk.test"


@dataclass
class Scene:
    hq: FedNode
    alice: User
    target: dict[str, Any]  # alice's post that refused requests try to like
    mallory: FakeActor
    evil: FakeActor
    evil_socket: FakePeer


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    with peer_in_thread() as remote, peer_in_thread() as evil_socket:
        mallory = FakeActor.generate(MALLORY, "mallory")
        mallory.publish(remote)
        plans = {
            "hq": Plan(
                allow=(MALLORY, TRENT),
                stand_ins={MALLORY: remote.port, TRENT: remote.port, EVIL: evil_socket.port},
            )
        }
        with network(tmp_path_factory.mktemp("hostile"), "sqlite", plans) as net:
            hq = net["hq"]
            alice = hq.create_user("alice")
            target = post(hq, alice, "Like me if you can")
            yield Scene(hq, alice, target, mallory, FakeActor.generate(EVIL, "eve"), evil_socket)


def like(actor: FakeActor, status_uri: str) -> dict[str, Any]:
    return actor.activity("Like", status_uri)


def favourites(scene: Scene, found: dict[str, Any]) -> int:
    return int(status(scene.hq, scene.alice, found["id"]).json()["favourites_count"])


def nothing_changed(scene: Scene) -> None:
    """A valid Like sent now is counted; the refused ones never were."""
    control = post(scene.hq, scene.alice, "Control post")
    answer = scene.mallory.post(scene.hq, like(scene.mallory, control["uri"]))
    assert answer.status_code == 202, answer.text
    wait_for(lambda: favourites(scene, control) == 1, "mallory's valid Like counted")
    assert favourites(scene, scene.target) == 0


def test_unsigned_post_is_401(scene: Scene) -> None:
    answer = scene.mallory.post(scene.hq, like(scene.mallory, scene.target["uri"]), signed=False)
    assert answer.status_code == 401
    assert "error" in answer.json()
    nothing_changed(scene)


def test_body_that_does_not_match_its_digest_is_401(scene: Scene) -> None:
    signed = like(scene.mallory, scene.target["uri"])
    other = orjson.dumps({**signed, "id": signed["id"] + "-other"})
    answer = scene.mallory.post(scene.hq, signed, send=other)
    assert answer.status_code == 401

    def wrong_digest(headers: dict[str, str]) -> None:
        headers["digest"] = digest_header(b"something else")

    answer = scene.mallory.post(scene.hq, signed, tamper=wrong_digest)
    assert answer.status_code == 401
    nothing_changed(scene)


def test_tampered_signature_is_401(scene: Scene) -> None:
    def flip(headers: dict[str, str]) -> None:
        headers["signature"] = headers["signature"].replace('signature="', 'signature="AAAA')

    answer = scene.mallory.post(scene.hq, like(scene.mallory, scene.target["uri"]), tamper=flip)
    assert answer.status_code == 401
    nothing_changed(scene)


def test_stale_date_is_401(scene: Scene) -> None:
    answer = scene.mallory.post(
        scene.hq, like(scene.mallory, scene.target["uri"]), date=stale_date(3600)
    )
    assert answer.status_code == 401
    nothing_changed(scene)


@pytest.mark.parametrize("claim", ["actor", "activity id", "object id"])
def test_signer_speaking_for_another_host_is_403(scene: Scene, claim: str) -> None:
    trent = f"http://{TRENT}/users/trent"
    if claim == "actor":
        activity = {**like(scene.mallory, scene.target["uri"]), "actor": trent}
    elif claim == "activity id":
        activity = {**like(scene.mallory, scene.target["uri"]), "id": f"{trent}#likes/1"}
    else:
        note = {
            "id": f"{trent}/statuses/{secrets.token_hex(4)}",
            "type": "Note",
            "attributedTo": scene.mallory.uri,
            "content": "<p>forged</p>",
            "to": [PUBLIC],
        }
        activity = scene.mallory.activity("Create", note, to=[PUBLIC])
    answer = scene.mallory.post(scene.hq, activity)
    assert answer.status_code == 403, answer.text
    nothing_changed(scene)


def test_garbage_with_a_valid_signature_is_400(scene: Scene) -> None:
    for body in (b"this is not json {", b"[1, 2, 3]", b'{"no": "type"}'):
        answer = scene.mallory.post(scene.hq, body)
        assert answer.status_code == 400, (body, answer.text)
    nothing_changed(scene)


def test_oversized_body_is_413(scene: Scene) -> None:
    activity = like(scene.mallory, scene.target["uri"])
    activity["padding"] = "x" * (1 << 20)
    answer = scene.mallory.post(scene.hq, activity)
    assert answer.status_code == 413
    nothing_changed(scene)


def test_wrong_content_type_is_415(scene: Scene) -> None:
    answer = scene.mallory.post(
        scene.hq, like(scene.mallory, scene.target["uri"]), content_type="text/plain"
    )
    assert answer.status_code == 415
    nothing_changed(scene)


def test_signer_from_a_disallowed_host_is_403_without_a_connection(scene: Scene) -> None:
    answer = scene.evil.post(scene.hq, like(scene.evil, scene.target["uri"]))
    assert answer.status_code == 403
    fetch = scene.evil.get(scene.hq, f"/users/{scene.alice.name}")
    assert fetch.status_code == 403
    nothing_changed(scene)
    assert scene.evil_socket.connections == 0


def test_signed_fetch_by_an_allowed_peer_works(scene: Scene) -> None:
    fetch = scene.mallory.get(scene.hq, f"/users/{scene.alice.name}")
    assert fetch.status_code == 200, fetch.text
    assert fetch.json()["id"] == f"{scene.hq.public_url}/users/{scene.alice.name}"


def test_replayed_like_is_accepted_twice_and_counted_once(scene: Scene) -> None:
    liked = post(scene.hq, scene.alice, "Replay target")
    activity = like(scene.mallory, liked["uri"])
    assert scene.mallory.post(scene.hq, activity).status_code == 202
    assert scene.mallory.post(scene.hq, activity).status_code == 202
    nothing_changed(scene)  # the control Like is processed: so would a second copy be
    assert favourites(scene, liked) == 1
    assert (
        len(notified(scene.hq, scene.alice, "favourite", f"mallory@{MALLORY}", liked["uri"])) == 1
    )


def test_replayed_create_notifies_once(scene: Scene) -> None:
    hq, alice = scene.hq, scene.alice
    alice_uri = f"{hq.public_url}/users/{alice.name}"

    def mention(text: str) -> dict[str, Any]:
        note = {
            "id": f"{scene.mallory.uri}/statuses/{secrets.token_hex(6)}",
            "type": "Note",
            "attributedTo": scene.mallory.uri,
            "content": f"<p>@{alice.name} {text}</p>",
            "to": [PUBLIC, alice_uri],
            "tag": [{"type": "Mention", "href": alice_uri, "name": f"@{alice.name}@{hq.domain}"}],
        }
        return scene.mallory.activity("Create", note, to=[PUBLIC, alice_uri])

    first = mention("are you there?")
    assert scene.mallory.post(hq, first).status_code == 202
    assert scene.mallory.post(hq, first).status_code == 202
    second = mention("second question")
    assert scene.mallory.post(hq, second).status_code == 202
    by = f"mallory@{MALLORY}"
    wait_for(
        lambda: notified(hq, alice, "mention", by, second["object"]["id"]),
        "the mention in the second Create",
    )
    assert len(notified(hq, alice, "mention", by, first["object"]["id"])) == 1


def test_votes_that_cannot_count_are_dropped_and_a_vote_counts_once(scene: Scene) -> None:
    """Mallory votes twice, for an option that does not exist, and on a poll that is not one:
    only the first vote counts, nothing becomes a post, nothing fails."""
    hq = scene.hq
    alice = hq.create_user("pollster")  # her notifications must stay empty
    alice_uri = f"{hq.public_url}/users/{alice.name}"
    poll_post = post(
        hq, alice, "Tea or coffee?", poll={"options": ["Tea", "Coffee"], "expires_in": 3600}
    )
    plain = post(hq, alice, "No poll here")

    def vote(option: str, question: str) -> dict[str, Any]:
        note = {
            "id": f"{scene.mallory.uri}#votes/{secrets.token_hex(6)}",
            "type": "Note",
            "name": option,
            "attributedTo": scene.mallory.uri,
            "to": [alice_uri],
            "inReplyTo": question,
        }
        return scene.mallory.activity("Create", note, to=[alice_uri])

    for option, question in (
        ("Coffee", poll_post["uri"]),
        ("Tea", poll_post["uri"]),  # a second vote in a one-choice poll
        ("Cocoa", poll_post["uri"]),
        ("Coffee", plain["uri"]),
    ):
        assert scene.mallory.post(hq, vote(option, question)).status_code == 202
    nothing_changed(scene)  # the control Like was processed after every vote above
    poll = status(hq, alice, poll_post["id"]).json()["poll"]
    assert [o["votes_count"] for o in poll["options"]] == [0, 1]
    assert hq.api(alice, "GET", "/api/v1/notifications").json() == []
    replies = hq.api(alice, "GET", f"/api/v1/statuses/{poll_post['id']}/context").json()
    assert replies["descendants"] == []
