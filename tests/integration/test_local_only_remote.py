"""A local-only post is for this node alone: nobody on another node can see it or touch it.

One real node (hq) allows `sales.flurfunk.test`, played by a fake remote (a small real HTTP
server) whose actors sign what they post, as a real server would, with their own RSA keys.
A remote actor who names a local-only post — even one that mentions them — in a Like, an
Announce, a poll vote or a reply changes no count and causes no notification; the same
activity on a public post works (so that the refusal is known to be the reason). Its
ActivityPub document is not served to other nodes.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from federation.httpsig_sign import sign_request
from models.db import Database
from models.federation import InboxActivity
from models.status import Status
from tests.federation_kit import (
    AS_CONTEXT,
    PUBLIC,
    FakeActor,
    FakeRemote,
    FedNode,
    fake_remote,
    node_beside,
    notifications,
    notified,
    post,
    status,
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
    tmp = tmp_path_factory.mktemp(f"local-only-{request.param}")
    with node_beside(remote, tmp, request.param) as node:
        yield node


# --- what the remote sends, and how it ends -------------------------------------------------


def send(node: FedNode, actor: FakeActor, activity: dict[str, Any]) -> dict[str, Any]:
    answer = actor.post(node, activity)
    assert answer.status_code == 202, answer.text
    return activity


def like(actor: FakeActor, status_uri: str) -> dict[str, Any]:
    return actor.activity("Like", status_uri)


def boost(actor: FakeActor, status_uri: str) -> dict[str, Any]:
    return actor.activity("Announce", status_uri, to=[PUBLIC], cc=[actor.uri + "/followers"])


def created(actor: FakeActor, note: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": AS_CONTEXT,
        "id": note["id"] + "/activity",
        "type": "Create",
        "actor": actor.uri,
        "to": note["to"],
        "cc": note.get("cc", []),
        "object": note,
    }


def vote(
    actor: FakeActor, node: FedNode, author: User, poll_uri: str, option: str
) -> dict[str, Any]:
    note = {
        "id": f"{actor.uri}#votes/{secrets.token_hex(6)}",
        "type": "Note",
        "name": option,
        "attributedTo": actor.uri,
        "inReplyTo": poll_uri,
        "to": [node.actor_uri(author)],
    }
    return created(actor, note)


def reply(actor: FakeActor, node: FedNode, author: User, parent_uri: str) -> dict[str, Any]:
    note = {
        "id": f"{actor.uri}/statuses/{secrets.token_hex(6)}",
        "type": "Note",
        "attributedTo": actor.uri,
        "content": f"<p>@{author.name} I saw that</p>",
        "inReplyTo": parent_uri,
        "published": "2024-05-02T09:00:00Z",
        "to": [PUBLIC],
        "cc": [node.actor_uri(author)],
        "tag": [{"type": "Mention", "href": node.actor_uri(author), "name": f"@{author.name}"}],
    }
    return created(actor, note)


def _query(node: FedNode, statement: Any) -> list[Any]:
    async def run() -> list[Any]:
        db = Database(node.database_url, pool_size=1)
        try:
            async with db.read() as session:
                return list((await session.execute(statement)).all())
        finally:
            await db.dispose()

    return asyncio.run(run())


def settled(node: FedNode, *activities: dict[str, Any]) -> None:
    """Wait until hq has processed the activities (or kept them as failed)."""
    ids = [a["id"] for a in activities]
    query = select(InboxActivity.id).where(
        InboxActivity.activity_uri.in_(ids),
        InboxActivity.processed_at.is_not(None) | InboxActivity.failed.is_(True),
    )
    wait_for(lambda: len(_query(node, query)) == len(ids), f"processing of {ids}")


def stored(node: FedNode, uri: str) -> bool:
    return bool(_query(node, select(Status.id).where(Status.uri == uri)))


def counts(node: FedNode, user: User, status_id: str) -> tuple[int, int, int]:
    shown = status(node, user, status_id).json()
    return shown["favourites_count"], shown["reblogs_count"], shown["replies_count"]


def about(node: FedNode, user: User, status_id: str) -> list[str]:
    """The kinds of notification `user` has about the status."""
    return [
        n["type"]
        for n in notifications(node, user)
        if (n.get("status") or {}).get("id") == status_id
    ]


def poll_votes(node: FedNode, user: User, status_id: str) -> int:
    return int(status(node, user, status_id).json()["poll"]["votes_count"])


# --- the tests ------------------------------------------------------------------------------


def test_a_remote_actor_can_neither_like_nor_boost_a_local_only_post(
    hq: FedNode, remote: FakeRemote
) -> None:
    ann, bob = hq.create_user("ann"), remote.actor("bob")
    only_here = post(hq, ann, "for this node only", visibility="local")
    refused = [
        send(hq, bob, like(bob, only_here["uri"])),
        send(hq, bob, boost(bob, only_here["uri"])),
    ]

    public = post(hq, ann, "for everyone")
    send(hq, bob, like(bob, public["uri"]))
    send(hq, bob, boost(bob, public["uri"]))
    who = f"{bob.name}@{remote.host}"
    wait_for(
        lambda: notified(hq, ann, "reblog", who, public["uri"]), "the boost of the public post"
    )
    wait_for(lambda: notified(hq, ann, "favourite", who, public["uri"]), "the public favourite")
    settled(hq, *refused)

    assert counts(hq, ann, only_here["id"]) == (0, 0, 0)
    assert about(hq, ann, only_here["id"]) == []
    assert counts(hq, ann, public["id"]) == (1, 1, 0)


def test_a_remote_actor_mentioned_in_a_local_only_post_cannot_touch_it(
    hq: FedNode, remote: FakeRemote
) -> None:
    ann, bob = hq.create_user("ann"), remote.actor("bob")
    remote.webfinger(bob)
    only_here = post(hq, ann, f"@{bob.name}@{remote.host} look, but only here", visibility="local")
    assert [m["acct"] for m in only_here["mentions"]] == [f"{bob.name}@{remote.host}"]
    refused = [
        send(hq, bob, like(bob, only_here["uri"])),
        send(hq, bob, boost(bob, only_here["uri"])),
    ]
    settled(hq, *refused)
    assert counts(hq, ann, only_here["id"]) == (0, 0, 0)
    assert about(hq, ann, only_here["id"]) == []


def test_a_remote_vote_on_a_local_only_poll_is_not_counted(hq: FedNode, remote: FakeRemote) -> None:
    ann, bob = hq.create_user("ann"), remote.actor("bob")
    poll = {"options": ["tea", "coffee"], "expires_in": 3600}
    only_here = post(hq, ann, "tea or coffee, here?", visibility="local", poll=poll)
    public = post(hq, ann, "tea or coffee, everyone?", poll=poll)

    refused = send(hq, bob, vote(bob, hq, ann, only_here["uri"], "tea"))
    send(hq, bob, vote(bob, hq, ann, public["uri"], "tea"))
    wait_for(lambda: poll_votes(hq, ann, public["id"]) == 1, "the vote on the public poll")
    settled(hq, refused)
    assert poll_votes(hq, ann, only_here["id"]) == 0


def test_a_remote_reply_to_a_local_only_post_is_refused(hq: FedNode, remote: FakeRemote) -> None:
    ann, bob = hq.create_user("ann"), remote.actor("bob")
    only_here = post(hq, ann, "a question for this node", visibility="local")
    refused = send(hq, bob, reply(bob, hq, ann, only_here["uri"]))

    public = post(hq, ann, "a question for everyone")
    answered = send(hq, bob, reply(bob, hq, ann, public["uri"]))
    who = f"{bob.name}@{remote.host}"
    wait_for(
        lambda: notified(hq, ann, "mention", who, answered["object"]["id"]),
        "the mention in the reply to the public post",
    )
    settled(hq, refused)

    assert not stored(hq, refused["object"]["id"])
    assert not notified(hq, ann, "mention", who, refused["object"]["id"])
    assert counts(hq, ann, only_here["id"]) == (0, 0, 0)
    thread = hq.api(ann, "GET", f"/api/v1/statuses/{only_here['id']}/context").json()
    assert thread["descendants"] == []


def test_a_local_only_post_is_not_served_to_other_nodes(hq: FedNode, remote: FakeRemote) -> None:
    ann, bob = hq.create_user("ann"), remote.actor("bob")
    only_here = post(hq, ann, "for this node only", visibility="local")
    public = post(hq, ann, "for everyone")
    path = f"/users/{ann.name}/statuses"

    def fetched(status_id: str, suffix: str = "") -> int:
        headers = sign_request(
            "GET",
            f"{hq.public_url}{path}/{status_id}{suffix}",
            {"accept": AS, "host": hq.domain},
            bob.key_id,
            bob.private_key,
        )
        url = f"{hq.url}{path}/{status_id}{suffix}"
        return httpx.get(url, headers=headers, timeout=30).status_code

    assert (fetched(public["id"]), fetched(public["id"], "/activity")) == (200, 200)
    assert (fetched(only_here["id"]), fetched(only_here["id"], "/activity")) == (404, 404)
    outbox = bob.get(hq, f"/users/{ann.name}/outbox").json()
    shown = [item["object"]["id"] for item in outbox["orderedItems"] if item["type"] == "Create"]
    assert public["uri"] in shown
    assert only_here["uri"] not in shown
