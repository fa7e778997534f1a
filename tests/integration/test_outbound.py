"""What local users do reaches other nodes — signed, addressed as it should be, and never to a
host that is not allowed; remote colleagues are found and mentioned from any Mastodon app.

A real node (`hq`) federates with a fake remote node (`sales`, allowed) that records what it
receives; a second fake node (`evil`) is routed too but never allowed, and counts connections.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from mastodon import Mastodon

from federation.httpsig_verify import body_digest_matches, parse, verify
from federation.keys import load_public_key
from tests.conftest import BACKENDS
from tests.fakenode import (
    PUBLIC,
    FakeActor,
    FakeNode,
    Inbound,
    NamedNode,
    fake_node,
    node_named,
    wait_for,
)
from tests.kit import User, postgres_available, require_service


@dataclass
class Net:
    hq: NamedNode
    sales: FakeNode
    evil: FakeNode
    keys: dict[str, str] = field(default_factory=dict)

    def user(self, prefix: str = "u", *, locked: bool = False) -> User:
        return self.hq.node.create_user(prefix, locked=locked)

    def client(self, user: User) -> Mastodon:
        return Mastodon(access_token=user.token, api_base_url=self.hq.node.url)

    def api(self, user: User, method: str, path: str, **kwargs: Any) -> Any:
        answer = self.hq.node.api(user, method, path, **kwargs)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def send(self, actor: FakeActor, activity: dict[str, Any]) -> None:
        """The fake node POSTs a signed activity to hq's shared inbox."""
        answer = self.sales.post(actor, self.hq.node, self.hq.public_url, activity)
        assert answer.status_code == 202, answer.text

    def public_key(self, user: User) -> str:
        """The user's key as other nodes see it: from the actor document (a signed GET)."""
        if user.name not in self.keys:
            reader = next(iter(self.sales.actors.values()), None) or self.sales.add_actor("key")
            answer = self.sales.get(reader, self.hq.node, self.hq.public_url, f"/users/{user.name}")
            assert answer.status_code == 200, answer.text
            self.keys[user.name] = answer.json()["publicKey"]["publicKeyPem"]
        return self.keys[user.name]

    def assert_signed_by(self, inbound: Inbound, user: User) -> None:
        request = inbound.request
        signed = parse("POST", f"http://{request.headers['host']}{request.path}", request.headers)
        assert signed.key_id == self.hq.actor_uri(user) + "#main-key"
        assert "digest" in signed.covered
        assert body_digest_matches(request.headers, request.body) is True
        verify(signed, load_public_key(self.public_key(user)))
        assert inbound.activity["actor"] == self.hq.actor_uri(user)


@pytest.fixture(scope="module", params=BACKENDS)
def net(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    backend: str = request.param
    if backend == "postgres":
        available, reason = postgres_available()
        require_service("PostgreSQL", available, reason)
    with (
        fake_node("sales.flurfunk.test") as sales,
        fake_node("evil.flurfunk.test") as evil,
        node_named(
            tmp_path_factory.mktemp(f"outbound-{backend}"),
            backend,
            "hq.flurfunk.test",
            FLURFUNK_ALLOWLIST="sales.flurfunk.test",
            FLURFUNK_CONNECT_TO=f"{sales.connect_to},{evil.connect_to}",
        ) as hq,
    ):
        yield Net(hq, sales, evil)


def followed_by_remote(net: Net, user: User, prefix: str = "fan") -> FakeActor:
    """A sales actor follows `user`; hq accepts (the Accept arrives at the actor's inbox)."""
    actor = net.sales.add_actor(prefix)
    follow = actor.activity("Follow", net.hq.actor_uri(user))
    net.send(actor, follow)
    net.sales.wait("Accept", follow["id"], f"{user.name} to accept {actor.name}")
    return actor


def remote_account_id(net: Net, user: User, actor: FakeActor, home: FakeNode) -> str:
    found = net.client(user).search_v2(home.handle(actor), resolve=True)
    assert [a["acct"] for a in found["accounts"]] == [home.handle(actor)]
    return str(found["accounts"][0]["id"])


def following_remote(
    net: Net, user: User, actor: FakeActor, home: FakeNode | None = None
) -> tuple[str, Inbound]:
    """`user` follows `actor`, whose node accepts; (account id, the Follow received)."""
    home = home or net.sales
    account_id = remote_account_id(net, user, actor, home)
    relationship = net.client(user).account_follow(account_id)
    assert relationship["requested"] is True  # until their server accepts
    follow = wait_for(
        lambda: [f for f in home.inbound("Follow") if f.object == actor.uri],
        f"{user.name}'s Follow to reach {actor.name}",
    )[0]
    accept = actor.activity("Accept", follow.activity)
    assert home.post(actor, net.hq.node, net.hq.public_url, accept).status_code == 202
    wait_for(
        lambda: net.client(user).account_relationships(account_id)[0]["following"],
        f"{user.name} to follow {actor.name} once accepted",
    )
    return account_id, follow


def remote_post(net: Net, actor: FakeActor, user: User, text: str) -> tuple[dict[str, Any], str]:
    """`actor` posts publicly mentioning `user`; (the note, its id on hq)."""
    note = net.sales.publish_note(
        actor,
        f"{text} @{user.name}",
        tag=[{"type": "Mention", "href": net.hq.actor_uri(user), "name": f"@{user.name}"}],
    )
    net.send(actor, actor.activity("Create", note, to=note["to"], cc=note["cc"]))

    def stored() -> str | None:
        found = net.api(user, "GET", "/api/v2/search", params={"q": note["id"]})["statuses"]
        return str(found[0]["id"]) if found else None

    return note, wait_for(stored, f"{actor.name}'s post to be stored on hq")


# --- finding remote colleagues -------------------------------------------------------------


def test_remote_handles_and_actor_urls_resolve(net: Net) -> None:
    user = net.user("finder")
    bob = net.sales.add_actor("bob")
    handle = net.sales.handle(bob)
    client = net.client(user)
    for query in (handle, "@" + handle, bob.uri):
        accounts = client.search_v2(query, resolve=True)["accounts"]
        assert [a["acct"] for a in accounts] == [handle], query
        assert accounts[0]["url"] == f"{net.sales.base}/@{bob.name}"
    looked_up = net.api(user, "GET", "/api/v1/accounts/lookup", params={"acct": "@" + handle})
    assert looked_up["acct"] == handle
    unknown = f"nobody@{net.sales.domain}"
    assert client.search_v2(unknown, resolve=True)["accounts"] == []
    assert (
        net.hq.node.api(
            user, "GET", "/api/v1/accounts/lookup", params={"acct": unknown}
        ).status_code
        == 404
    )


def test_a_remote_status_url_resolves(net: Net) -> None:
    user = net.user("reader")
    bob = net.sales.add_actor("bob")
    note = net.sales.publish_note(bob, "Quarterly numbers are in")
    client = net.client(user)
    assert client.search_v2(note["id"], resolve=False)["statuses"] == []
    found = client.search_v2(note["id"], resolve=True)["statuses"]
    assert [s["uri"] for s in found] == [note["id"]]
    assert "Quarterly numbers" in found[0]["content"]
    assert found[0]["account"]["acct"] == net.sales.handle(bob)


def test_following_a_remote_account_sends_a_signed_follow_and_undo(net: Net) -> None:
    user = net.user("follower")
    bob = net.sales.add_actor("bob")
    account_id, follow = following_remote(net, user, bob)
    assert follow.path == f"/users/{bob.name}/inbox"
    assert re.fullmatch(re.escape(net.hq.actor_uri(user)) + r"#follows/\d+", follow.activity["id"])
    net.assert_signed_by(follow, user)

    net.client(user).account_unfollow(account_id)
    undo = net.sales.wait("Undo", follow.activity["id"])
    assert undo.object["type"] == "Follow"
    assert undo.activity["id"] == follow.activity["id"] + "/undo"
    net.assert_signed_by(undo, user)


# --- posts ---------------------------------------------------------------------------------


def test_posts_reach_remote_followers_and_local_ones_stay_home(net: Net) -> None:
    user = net.user("poster")
    followed_by_remote(net, user)
    client = net.client(user)
    local = net.api(user, "POST", "/api/v1/statuses", data={"status": "hq", "visibility": "local"})
    public = client.status_post("hello sales", visibility="public")
    unlisted = client.status_post("quietly", visibility="unlisted")
    private = client.status_post("followers only", visibility="private")

    create = net.sales.wait("Create", public["uri"])
    net.assert_signed_by(create, user)
    assert create.path == "/inbox"  # followers on one node share its shared inbox
    assert create.activity["id"] == public["uri"] + "/activity"
    assert create.activity["to"] == [PUBLIC]
    assert "hello sales" in create.object["content"]
    followers = net.hq.actor_uri(user) + "/followers"
    quiet = net.sales.wait("Create", unlisted["uri"]).object
    assert quiet["to"] == [followers]
    assert PUBLIC in quiet["cc"]
    hidden = net.sales.wait("Create", private["uri"]).object
    assert hidden["to"] == [followers]
    assert PUBLIC not in hidden["cc"]
    assert not [a for a in net.sales.inbound() if local["uri"] in str(a.activity)]


def test_a_direct_message_reaches_only_the_mentioned_inbox(net: Net) -> None:
    user = net.user("whisper")
    followed_by_remote(net, user, "onlooker")  # must not see it through the shared inbox
    bob = net.sales.add_actor("bob")
    dm = net.client(user).status_post(f"@{net.sales.handle(bob)} just for you", visibility="direct")
    assert [m["acct"] for m in dm["mentions"]] == [net.sales.handle(bob)]

    create = net.sales.wait("Create", dm["uri"])
    net.assert_signed_by(create, user)
    assert create.object["to"] == [bob.uri]
    assert create.object["cc"] == []
    assert {
        "type": "Mention",
        "href": bob.uri,
        "name": "@" + net.sales.handle(bob),
    } in create.object["tag"]
    arrived = [a for a in net.sales.inbound() if dm["uri"] in str(a.activity)]
    assert [a.path for a in arrived] == [f"/users/{bob.name}/inbox"]


def test_edits_and_deletes_follow_the_post(net: Net) -> None:
    user = net.user("editor")
    followed_by_remote(net, user)
    client = net.client(user)
    status = client.status_post("frist post")
    net.sales.wait("Create", status["uri"])
    client.status_update(status["id"], "first post")
    update = net.sales.wait("Update", status["uri"])
    net.assert_signed_by(update, user)
    assert "first post" in update.object["content"]
    assert "updated" in update.object
    client.status_delete(status["id"])
    delete = net.sales.wait("Delete", status["uri"])
    assert delete.object == {"id": status["uri"], "type": "Tombstone"}
    assert delete.path == "/inbox"
    net.assert_signed_by(delete, user)


def test_mentions_of_remote_colleagues_become_mentions(net: Net) -> None:
    user = net.user("mentioner")
    carol = net.sales.add_actor("carol")
    status = net.client(user).status_post(f"thanks @{net.sales.handle(carol)}!")
    assert [m["acct"] for m in status["mentions"]] == [net.sales.handle(carol)]
    create = net.sales.wait("Create", status["uri"])  # carol does not follow: mentioned only
    assert carol.uri in create.object["cc"]
    assert create.object["tag"][0]["href"] == carol.uri


# --- interactions with remote posts --------------------------------------------------------


def test_replies_favourites_and_boosts_reach_the_remote_author(net: Net) -> None:
    user = net.user("fan")
    bob = net.sales.add_actor("bob")
    note, status_id = remote_post(net, bob, user, "Lunch at noon?")
    client = net.client(user)

    reply = client.status_post("count me in", in_reply_to_id=status_id)
    answer = net.sales.wait("Create", reply["uri"], "the reply to reach bob's node")
    assert answer.object["inReplyTo"] == note["id"]

    client.status_favourite(status_id)
    like = net.sales.wait("Like", note["id"])
    assert like.path == f"/users/{bob.name}/inbox"
    assert re.fullmatch(re.escape(net.hq.actor_uri(user)) + r"#likes/\d+", like.activity["id"])
    net.assert_signed_by(like, user)
    client.status_unfavourite(status_id)
    undo_like = net.sales.wait("Undo", like.activity["id"])
    assert undo_like.object["object"] == note["id"]

    boost = client.status_reblog(status_id)
    announce = net.sales.wait("Announce", note["id"])
    assert announce.activity["id"] == boost["uri"]
    net.assert_signed_by(announce, user)
    client.status_unreblog(status_id)
    undo_boost = net.sales.wait("Undo", announce.activity["id"])
    assert undo_boost.object["type"] == "Announce"


def test_blocking_a_remote_account_ends_the_follow_and_is_undone(net: Net) -> None:
    user = net.user("blocker")
    bob = net.sales.add_actor("bob")
    account_id, follow = following_remote(net, user, bob)
    client = net.client(user)
    client.account_block(account_id)
    undo_follow = net.sales.wait("Undo", follow.activity["id"])
    assert undo_follow.path == f"/users/{bob.name}/inbox"
    block = net.sales.wait("Block", bob.uri)
    assert re.fullmatch(re.escape(net.hq.actor_uri(user)) + r"#blocks/\d+", block.activity["id"])
    net.assert_signed_by(block, user)
    client.account_unblock(account_id)
    net.sales.wait("Undo", block.activity["id"])


def test_a_locked_account_answers_remote_follow_requests(net: Net) -> None:
    user = net.user("locked", locked=True)
    client = net.client(user)
    alice, mallory = net.sales.add_actor("alice"), net.sales.add_actor("mallory")
    follows = {}
    for actor in (alice, mallory):
        follows[actor.name] = actor.activity("Follow", net.hq.actor_uri(user))
        net.send(actor, follows[actor.name])
    requests = wait_for(
        lambda: r if len(r := client.follow_requests()) == 2 else None,
        "both follow requests to wait for approval",
    )
    ids = {r["username"]: r["id"] for r in requests}

    client.follow_request_authorize(ids[alice.name])
    accept = net.sales.wait("Accept", follows[alice.name]["id"])
    assert accept.path == f"/users/{alice.name}/inbox"
    assert accept.object["actor"] == alice.uri
    net.assert_signed_by(accept, user)
    client.follow_request_reject(ids[mallory.name])
    reject = net.sales.wait("Reject", follows[mallory.name]["id"])
    assert reject.path == f"/users/{mallory.name}/inbox"

    client.account_remove_from_followers(ids[alice.name])
    removed = wait_for(
        lambda: [r for r in net.sales.about("Reject", follows[alice.name]["id"])],
        "a Reject of alice's follow after she was removed",
    )
    assert removed[0].path == f"/users/{alice.name}/inbox"


def test_profile_changes_reach_remote_followers(net: Net) -> None:
    user = net.user("profile")
    followed_by_remote(net, user)
    net.client(user).account_update_credentials(display_name="Sales Liaison", note="Ask me")
    update = wait_for(
        lambda: [
            u
            for u in net.sales.about("Update", net.hq.actor_uri(user))
            if u.object.get("name") == "Sales Liaison"
        ],
        "an Update(Person) with the new name",
    )[0]
    assert update.path == "/inbox"
    assert update.object["type"] == "Person"
    assert "Ask me" in update.object["summary"]
    assert update.activity["id"].startswith(net.hq.actor_uri(user) + "#updates/")
    net.assert_signed_by(update, user)


# --- hosts that are not allowed --------------------------------------------------------------


def test_nothing_reaches_a_host_that_is_not_allowed(net: Net) -> None:
    user = net.user("careful")
    followed_by_remote(net, user)
    client = net.client(user)
    eve = f"eve@{net.evil.domain}"
    assert client.search_v2(eve, resolve=True)["accounts"] == []
    assert (
        net.hq.node.api(user, "GET", "/api/v1/accounts/lookup", params={"acct": eve}).status_code
        == 404
    )
    status = client.status_post(f"hello @{eve} and everyone")
    assert status["mentions"] == []
    assert f"@{eve}" in re.sub(r"<[^>]+>", "", status["content"])
    net.sales.wait("Create", status["uri"])  # the delivery worker has been at work
    assert net.evil.connections == 0
    assert net.evil.received == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_hosts_removed_from_the_allowlist_vanish_and_hear_nothing(
    backend: str, tmp_path: Path
) -> None:
    if backend == "postgres":
        available, reason = postgres_available()
        require_service("PostgreSQL", available, reason)
    with (
        fake_node("sales.flurfunk.test") as sales,
        fake_node("dev.flurfunk.test") as dev,
        node_named(
            tmp_path,
            backend,
            "hq.flurfunk.test",
            FLURFUNK_ALLOWLIST="sales.flurfunk.test,dev.flurfunk.test",
            FLURFUNK_CONNECT_TO=f"{sales.connect_to},{dev.connect_to}",
        ) as hq,
    ):
        check_removal(Net(hq, sales, dev), dev)


def check_removal(net: Net, dev: FakeNode) -> None:
    user = net.user("watcher")
    followed_by_remote(net, user)  # a sales follower: proof that deliveries still run
    dan = dev.add_actor("dan")
    account_id, _ = following_remote(net, user, dan, dev)
    follow = dan.activity("Follow", net.hq.actor_uri(user))
    assert dev.post(dan, net.hq.node, net.hq.public_url, follow).status_code == 202
    dev.wait("Accept", follow["id"])
    note = dev.publish_note(
        dan,
        f"Release notes #shipit @{user.name}",
        tag=[
            {"type": "Mention", "href": net.hq.actor_uri(user), "name": f"@{user.name}"},
            {"type": "Hashtag", "name": "#shipit", "href": f"{dev.base}/tags/shipit"},
        ],
    )
    create = dan.activity("Create", note, to=note["to"], cc=note["cc"])
    assert dev.post(dan, net.hq.node, net.hq.public_url, create).status_code == 202

    def search_hits() -> list[Any]:
        return list(net.api(user, "GET", "/api/v2/search", params={"q": note["id"]})["statuses"])

    status_id = wait_for(search_hits, "dan's post to be stored")[0]["id"]
    reads: dict[str, tuple[str, dict[str, str]]] = {
        "home": ("/api/v1/timelines/home", {}),
        "public": ("/api/v1/timelines/public", {}),
        "tag": ("/api/v1/timelines/tag/shipit", {}),
        "account": (f"/api/v1/accounts/{account_id}/statuses", {}),
        "notifications": ("/api/v1/notifications", {}),
    }

    def shown() -> dict[str, bool]:
        return {
            name: note["id"] in str(net.api(user, "GET", path, params=params))
            for name, (path, params) in reads.items()
        }

    assert shown() == dict.fromkeys(reads, True)
    net.hq.node.cli("allowlist", "remove", "dev.flurfunk.test")
    wait_for(
        lambda: net.hq.node.api(user, "GET", f"/api/v1/statuses/{status_id}").status_code == 404,
        "dan's post to disappear once dev is no longer allowed",
    )
    assert shown() == dict.fromkeys(reads, False)
    assert search_hits() == []
    accounts = net.api(user, "GET", "/api/v2/search", params={"q": dev.handle(dan)})["accounts"]
    assert accounts == []

    heard = len(dev.received)
    status = net.client(user).status_post(f"still there, @{dev.handle(dan)}?")
    net.sales.wait("Create", status["uri"])
    assert len(dev.received) == heard
    again = dan.activity("Create", dev.publish_note(dan, "let me in"))
    assert dev.post(dan, net.hq.node, net.hq.public_url, again).status_code == 403
