"""A real node against hostile group traffic from a fake peer: Announces of posts that their
authors never signed, Announces from actors that are no group, and Add/Remove from actors
with no say over the membership. Each refused activity changes nothing; a valid one sent
afterwards shows that the member's node was listening.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from federation import proofs
from tests.federation_kit import (
    AS_CONTEXT,
    PUBLIC,
    FakeActor,
    FedNode,
    Plan,
    arrives,
    in_home,
    network,
    peer_in_thread,
    relationship,
    seen,
    wait_for,
)
from tests.kit import User
from tests.peer import FakePeer

MALLORY = "mallory.flurfunk.test"


@dataclass
class Scene:
    hq: FedNode
    alice: User
    peer: FakePeer
    band: FakeActor  # a group alice belongs to
    author: FakeActor  # a member of the band on the fake node
    author_key: Ed25519PrivateKey
    mallory: FakeActor  # a person, no group


def publish(peer: FakePeer, actor: FakeActor, **extra: Any) -> None:
    peer.answer(
        f"/users/{actor.name}",
        200,
        orjson.dumps({**actor.document(), **extra}),
        content_type="application/activity+json",
    )


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    with peer_in_thread() as peer:
        band = FakeActor.generate(MALLORY, "band")
        author = FakeActor.generate(MALLORY, "author")
        mallory = FakeActor.generate(MALLORY, "mallory")
        author_key = Ed25519PrivateKey.generate()
        publish(peer, band, type="Group")
        publish(
            peer,
            author,
            assertionMethod=[
                {
                    "id": author.uri + "#ed25519-key",
                    "type": "Multikey",
                    "controller": author.uri,
                    "publicKeyMultibase": proofs.multikey_of(author_key.public_key()),
                }
            ],
        )
        publish(peer, mallory)
        plans = {"hq": Plan(allow=(MALLORY,), stand_ins={MALLORY: peer.port})}
        with network(tmp_path_factory.mktemp("groups-hostile"), "sqlite", plans) as net:
            hq = net["hq"]
            alice = hq.create_user("alice")
            scene = Scene(hq, alice, peer, band, author, author_key, mallory)
            # The band adds alice to its members.
            add = band.activity("Add", hq.actor_uri(alice), target=band.uri + "/followers")
            assert band.post(hq, add).status_code == 202
            wait_for(lambda: member(scene, band), "alice joining the band")
            yield scene


def account_id(scene: Scene, actor: FakeActor) -> str:
    found = scene.hq.api(
        scene.alice,
        "GET",
        "/api/v2/search",
        params={"q": actor.uri, "resolve": "true", "type": "accounts"},
    ).json()["accounts"]
    assert found, f"{actor.uri} does not resolve"
    return str(found[0]["id"])


def member(scene: Scene, group: FakeActor) -> bool:
    return bool(relationship(scene.hq, scene.alice, account_id(scene, group))["following"])


def group_create(scene: Scene, text: str, *, audience: str | None = None) -> dict[str, Any]:
    author, band = scene.author, scene.band
    note_id = f"{author.uri}/statuses/{secrets.token_hex(6)}"
    to = [band.uri + "/followers"]
    note = {
        "id": note_id,
        "type": "Note",
        "attributedTo": author.uri,
        "content": f"<p>{text}</p>",
        "published": "2026-12-07T10:00:00Z",
        "audience": audience or band.uri,
        "to": to,
        "cc": [band.uri],
    }
    return {
        "@context": AS_CONTEXT,
        "id": note_id + "/activity",
        "type": "Create",
        "actor": author.uri,
        "to": to,
        "cc": [band.uri],
        "object": note,
    }


def signed(
    scene: Scene, activity: dict[str, Any], key: Ed25519PrivateKey | None = None
) -> dict[str, Any]:
    key_id = scene.author.uri + "#ed25519-key"
    return proofs.sign(activity, key or scene.author_key, key_id, "2026-12-07T10:00:00Z")


def announce(by: FakeActor, activity: dict[str, Any]) -> dict[str, Any]:
    return by.activity("Announce", activity, to=[by.uri + "/followers"], audience=by.uri)


def note_uri(create: dict[str, Any]) -> str:
    return str(create["object"]["id"])


def test_only_proven_posts_of_the_group_reach_members(scene: Scene) -> None:
    hq, alice, band = scene.hq, scene.alice, scene.band
    refused = {
        "unsigned": group_create(scene, "not signed by its author"),
        "forged": signed(
            scene, group_create(scene, "signed by another key"), Ed25519PrivateKey.generate()
        ),
        "other group": signed(
            scene, group_create(scene, "posted elsewhere", audience=scene.mallory.uri)
        ),
    }
    tampered = signed(scene, group_create(scene, "the original words"))
    tampered["object"]["content"] = "<p>words the author never wrote</p>"
    refused["tampered"] = tampered
    for create in refused.values():
        assert band.post(hq, announce(band, create)).status_code == 202
    # A person (no group) relaying a properly signed post of the band: not a relay either.
    by_person = signed(scene, group_create(scene, "relayed by a person"))
    assert scene.mallory.post(hq, announce(scene.mallory, by_person)).status_code == 202
    refused["by a person"] = by_person

    valid = signed(scene, group_create(scene, "a real group post"))
    assert band.post(hq, announce(band, valid)).status_code == 202
    shown = arrives(hq, alice, note_uri(valid))
    assert shown["visibility"] == "private"
    for what, create in refused.items():
        assert in_home(hq, alice, note_uri(create)) is None, what


def group_like(scene: Scene, status_uri: str) -> dict[str, Any]:
    author, band = scene.author, scene.band
    return {
        "@context": AS_CONTEXT,
        "id": f"{author.uri}#likes/{secrets.token_hex(6)}",
        "type": "Like",
        "actor": author.uri,
        "object": status_uri,
        "audience": band.uri,
        "to": [band.uri + "/followers"],
        "cc": [band.uri],
    }


def favourites(scene: Scene, uri: str) -> int:
    found = seen(scene.hq, scene.alice, uri)
    assert found is not None
    return int(found["favourites_count"])


def test_only_proven_likes_relayed_by_the_group_count(scene: Scene) -> None:
    hq, alice, band = scene.hq, scene.alice, scene.band
    liked = signed(scene, group_create(scene, "like this"))
    assert band.post(hq, announce(band, liked)).status_code == 202
    arrives(hq, alice, note_uri(liked))
    uri = note_uri(liked)
    refused = [
        announce(band, group_like(scene, uri)),  # no proof
        announce(band, signed(scene, group_like(scene, uri), Ed25519PrivateKey.generate())),
        announce(scene.mallory, signed(scene, group_like(scene, uri))),  # not from the group
    ]
    for activity in refused:
        by = band if activity["actor"] == band.uri else scene.mallory
        assert by.post(hq, activity).status_code == 202
    control = signed(scene, group_create(scene, "sent after the forged likes"))
    assert band.post(hq, announce(band, control)).status_code == 202
    arrives(hq, alice, note_uri(control))
    assert favourites(scene, uri) == 0

    like = signed(scene, group_like(scene, uri))
    assert band.post(hq, announce(band, like)).status_code == 202
    wait_for(lambda: favourites(scene, uri) == 1, "the relayed like")
    undo = {
        "@context": AS_CONTEXT,
        "id": like["id"] + "/undo",
        "type": "Undo",
        "actor": scene.author.uri,
        "object": {k: v for k, v in like.items() if k not in ("@context", "proof")},
    }
    assert band.post(hq, announce(band, undo)).status_code == 202  # unsigned: refused
    control = signed(scene, group_create(scene, "sent after the unsigned undo"))
    assert band.post(hq, announce(band, control)).status_code == 202
    arrives(hq, alice, note_uri(control))
    assert favourites(scene, uri) == 1
    assert band.post(hq, announce(band, signed(scene, undo))).status_code == 202
    wait_for(lambda: favourites(scene, uri) == 0, "the relayed undo")


def rejected(scene: Scene, activity_id: str) -> bool:
    for received in list(scene.peer.received):
        if received.method != "POST" or not received.body:
            continue
        body = orjson.loads(received.body)
        inner = body.get("object")
        if body.get("type") == "Reject" and isinstance(inner, dict) and inner["id"] == activity_id:
            return True
    return False


def test_a_non_members_like_in_a_local_group_is_rejected(scene: Scene) -> None:
    hq, alice, mallory = scene.hq, scene.alice, scene.mallory
    name = f"g{secrets.token_hex(4)}"
    hq.cli("group", "create", name, "--owner", alice.name, "--visibility", "members")
    answer = hq.api(alice, "POST", "/api/v1/statuses", json={"status": f"@{name} for us only"})
    assert answer.status_code == 200, answer.text
    uri = answer.json()["uri"]
    like = mallory.activity("Like", uri)
    assert mallory.post(hq, like).status_code == 202
    wait_for(lambda: rejected(scene, like["id"]), "the group's Reject of mallory's like")
    assert favourites(scene, uri) == 0


def test_membership_changes_only_from_the_group_itself(scene: Scene) -> None:
    hq, alice, band, mallory = scene.hq, scene.alice, scene.band, scene.mallory
    # A person cannot enrol alice anywhere, nor can another actor remove her from the band.
    add = mallory.activity("Add", hq.actor_uri(alice), target=mallory.uri + "/followers")
    assert mallory.post(hq, add).status_code == 202
    remove = mallory.activity("Remove", hq.actor_uri(alice), target=band.uri + "/followers")
    assert mallory.post(hq, remove).status_code == 202
    # The band's own Remove, sent last, takes effect; the refused ones never did.
    control = signed(scene, group_create(scene, "still a member"))
    assert band.post(hq, announce(band, control)).status_code == 202
    arrives(hq, alice, note_uri(control))
    assert not relationship(hq, alice, account_id(scene, mallory))["following"]
    assert member(scene, band)
    remove = band.activity("Remove", hq.actor_uri(alice), target=band.uri + "/followers")
    assert band.post(hq, remove).status_code == 202
    wait_for(lambda: not member(scene, band), "the band's Remove")
    after = signed(scene, group_create(scene, "after alice left"))
    assert band.post(hq, announce(band, after)).status_code == 202
    # Alice's node drops what the band relays now: nobody there is a member.
    control_group = signed(scene, group_create(scene, "nobody hears this"))
    assert band.post(hq, announce(band, control_group)).status_code == 202
    assert in_home(hq, alice, note_uri(after)) is None


def test_a_public_post_to_a_members_only_group_stays_with_its_members(scene: Scene) -> None:
    """A member's node whose view of the group is stale (or hostile) addresses a post to a
    members-only group publicly: the group's node keeps it for the members."""
    hq, alice, author = scene.hq, scene.alice, scene.author
    name = f"g{secrets.token_hex(4)}"
    hq.cli("group", "create", name, "--owner", alice.name, "--visibility", "members")
    group_uri = f"{hq.public_url}/users/{name}"
    assert author.post(hq, author.activity("Follow", group_uri)).status_code == 202
    members = f"/api/v1/flurfunk/groups/{name}/members"
    wait_for(
        lambda: any(
            m["account"]["acct"].startswith("author@") for m in hq.api(alice, "GET", members).json()
        ),
        "the fake author joining the group",
    )
    note_id = f"{author.uri}/statuses/{secrets.token_hex(6)}"
    note = {
        "id": note_id,
        "type": "Note",
        "attributedTo": author.uri,
        "content": "<p>only for the group</p>",
        "published": "2026-12-07T10:00:00Z",
        "audience": group_uri,
        "to": [PUBLIC],
        "cc": [group_uri, author.uri + "/followers"],
    }
    create = author.activity("Create", note, to=[PUBLIC], cc=[group_uri])
    assert author.post(hq, create).status_code == 202
    shown = arrives(hq, alice, note_id)
    assert shown["visibility"] == "private"
    public = hq.api(None, "GET", "/api/v1/timelines/public").json()
    assert note_id not in [s["uri"] for s in public]
    assert hq.api(None, "GET", f"/api/v1/statuses/{shown['id']}").status_code == 404
