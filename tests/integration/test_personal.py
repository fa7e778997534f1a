"""What a user keeps for themselves — account notes, blocked nodes, muted threads, the
notification policy, featured hashtags, endorsements — driven by Mastodon.py as an app would.

The write-read walk: every write route answers success only if the matching read shows it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from mastodon import Mastodon
from mastodon.errors import MastodonAPIError, MastodonNotFoundError

from tests.conftest import BACKENDS
from tests.fakenode import FakeActor, FakeNode, NamedNode, fake_node, node_named, wait_for
from tests.kit import RunningNode, User, postgres_available, require_service


def client(node: RunningNode, user: User) -> Mastodon:
    # The node reports 4.x features below its version string; check nothing client-side.
    return Mastodon(access_token=user.token, api_base_url=node.url, version_check_mode="none")


def notifications_from(node: RunningNode, user: User, sender: User) -> list[str]:
    answer = node.api(user, "GET", "/api/v1/notifications")
    assert answer.status_code == 200, answer.text
    return [n["type"] for n in answer.json() if n["account"]["id"] == sender.id]


def test_write_read_walk(node: RunningNode) -> None:
    alice, bob = node.create_user("walker"), node.create_user("walked")
    a = client(node, alice)
    walked: dict[str, Any] = {}

    # POST /api/v1/accounts/:id/note -> relationship.note
    assert a.account_note_set(bob.id, "met at the offsite")["note"] == "met at the offsite"
    assert a.account_relationships(bob.id)[0]["note"] == "met at the offsite"
    assert a.account_note_set(bob.id, "")["note"] == ""
    assert a.account_relationships(bob.id)[0]["note"] == ""
    walked["note"] = True

    # POST/DELETE /api/v1/domain_blocks -> GET /api/v1/domain_blocks
    a.domain_block("Sales.Corp.Example")
    a.domain_block("sales.corp.example")  # again: still one
    assert list(a.domain_blocks()) == ["sales.corp.example"]
    a.domain_unblock("sales.corp.example")
    assert list(a.domain_blocks()) == []
    walked["domain_blocks"] = True

    # POST /api/v1/statuses/:id/mute, unmute -> status.muted
    post = client(node, bob).status_post("a thread")
    assert a.status_mute(post["id"])["muted"] is True
    assert a.status(post["id"])["muted"] is True
    assert client(node, bob).status(post["id"])["muted"] is False  # only for who muted
    assert a.status_unmute(post["id"])["muted"] is False
    assert a.status(post["id"])["muted"] is False
    walked["status_mute"] = True

    # PATCH /api/v2/notifications/policy -> GET /api/v2/notifications/policy
    changed = a.update_notifications_policy(for_not_following="drop")
    assert changed["for_not_following"] == "drop"
    assert a.notifications_policy()["for_not_following"] == "drop"
    assert a.notifications_policy()["for_private_mentions"] == "accept"
    a.update_notifications_policy(for_not_following="accept")
    assert a.notifications_policy()["for_not_following"] == "accept"
    walked["notification_policy"] = True

    # POST/DELETE /api/v1/featured_tags -> GET featured_tags and the account's featured_tags
    featured = a.featured_tag_create("Roadmap")
    assert featured["name"] == "roadmap"
    assert [t["name"] for t in a.featured_tags()] == ["roadmap"]
    others_view = client(node, bob).account_featured_tags(alice.id)
    assert [t["name"] for t in others_view] == ["roadmap"]
    a.featured_tag_delete(featured["id"])
    assert list(a.featured_tags()) == []
    walked["featured_tags"] = True

    # pin/unpin (4.3) and endorse/unendorse (4.4) -> relationship.endorsed, endorsements
    assert a.account_pin(bob.id)["endorsed"] is True
    assert [x["id"] for x in a.endorsements()] == [bob.id]
    answer = node.api(bob, "GET", f"/api/v1/accounts/{alice.id}/endorsements")
    assert [x["id"] for x in answer.json()] == [bob.id]
    assert a.account_unpin(bob.id)["endorsed"] is False
    assert list(a.endorsements()) == []
    assert a.account_endorse(bob.id)["endorsed"] is True
    assert a.account_relationships(bob.id)[0]["endorsed"] is True
    assert a.account_unendorse(bob.id)["endorsed"] is False
    walked["endorsements"] = True

    assert set(walked) == {
        "note",
        "domain_blocks",
        "status_mute",
        "notification_policy",
        "featured_tags",
        "endorsements",
    }


def test_muted_thread_sends_no_notifications(node: RunningNode) -> None:
    author, replier = node.create_user("threadstarter"), node.create_user("replier")
    a, r = client(node, author), client(node, replier)
    root = a.status_post("what do we think of the new canteen?")
    r.status_post(f"@{author.name} fine", in_reply_to_id=root["id"])
    assert notifications_from(node, author, replier) == ["mention"]
    a.status_mute(root["id"])
    reply = r.status_post(f"@{author.name} more", in_reply_to_id=root["id"])
    r.status_favourite(root["id"])
    assert notifications_from(node, author, replier) == ["mention"]
    a.status_unmute(root["id"])
    r.status_post(f"@{author.name} one more", in_reply_to_id=reply["id"])
    assert notifications_from(node, author, replier) == ["mention", "mention"]


def test_policy_drop_and_honest_refusals(node: RunningNode) -> None:
    me, stranger = node.create_user("picky"), node.create_user("stranger")
    m, s = client(node, me), client(node, stranger)
    m.update_notifications_policy(for_not_following="drop")
    s.status_post(f"@{me.name} hello")
    assert notifications_from(node, me, stranger) == []
    m.account_follow(stranger.id)
    s.status_post(f"@{me.name} hello again")
    assert notifications_from(node, me, stranger) == ["mention"]

    # "filter" would need notification requests, which this node does not keep: refused.
    with pytest.raises(MastodonAPIError) as refused:
        m.update_notifications_policy(for_new_accounts="filter")
    assert refused.value.args[1] == 422
    assert m.notifications_policy()["for_new_accounts"] == "accept"
    bad = node.api(me, "PATCH", "/api/v2/notifications/policy", data={"for_new_accounts": "x"})
    assert bad.status_code == 422

    for path in ("/api/v1/domain_blocks",):
        for body in ({}, {"domain": "not a host"}, {"domain": node.url.split("//")[1]}):
            answer = node.api(me, "POST", path, data=body)
            assert answer.status_code == 422, (body, answer.text)
    assert list(m.domain_blocks()) == []

    with pytest.raises(MastodonNotFoundError):
        m.account_note_set("999999999", "nobody")
    with pytest.raises(MastodonNotFoundError):
        m.status_mute("999999999")
    with pytest.raises(MastodonNotFoundError):
        m.featured_tag_delete("999999999")
    with pytest.raises(MastodonAPIError):
        m.account_pin(me.id)  # oneself
    with pytest.raises(MastodonAPIError):
        m.featured_tag_create("not a tag!")


def test_policy_drops_private_mentions_from_strangers_only(node: RunningNode) -> None:
    me, stranger = node.create_user("private"), node.create_user("dmstranger")
    m, s = client(node, me), client(node, stranger)
    m.update_notifications_policy(for_private_mentions="drop", for_not_followers="accept")
    s.status_post(f"@{me.name} psst", visibility="direct")
    s.status_post(f"@{me.name} in the open")
    assert notifications_from(node, me, stranger) == ["mention"]
    m.account_follow(stranger.id)
    s.status_post(f"@{me.name} psst again", visibility="direct")
    assert notifications_from(node, me, stranger) == ["mention", "mention"]
    # Dropped means never stored: accepting again does not bring the first back.
    m.update_notifications_policy(for_private_mentions="accept")
    assert notifications_from(node, me, stranger) == ["mention", "mention"]


@pytest.fixture(scope="module", params=BACKENDS)
def net(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[NamedNode, FakeNode]]:
    backend: str = request.param
    if backend == "postgres":
        available, reason = postgres_available()
        require_service("PostgreSQL", available, reason)
    with (
        fake_node("sales.flurfunk.test") as sales,
        node_named(
            tmp_path_factory.mktemp(f"personal-{backend}"),
            backend,
            "hq.flurfunk.test",
            FLURFUNK_ALLOWLIST="sales.flurfunk.test",
            FLURFUNK_CONNECT_TO=sales.connect_to,
        ) as hq,
    ):
        yield hq, sales


def mention_from(hq: NamedNode, sales: FakeNode, actor: FakeActor, user: User) -> str:
    """`actor` on sales posts publicly, mentioning `user`; the status's uri."""
    note = sales.publish_note(
        actor,
        f"@{user.name} have a look",
        cc=[hq.actor_uri(user)],
        tag=[{"type": "Mention", "href": hq.actor_uri(user), "name": f"@{hq.handle(user)}"}],
    )
    create = actor.activity("Create", note, to=note["to"], cc=note["cc"])
    assert sales.post(actor, hq.node, hq.public_url, create).status_code == 202
    return str(note["id"])


def test_blocking_a_node_hides_it_for_oneself(net: tuple[NamedNode, FakeNode]) -> None:
    hq, sales = net
    node = hq.node
    me, colleague = node.create_user("nodeblocker"), node.create_user("unbothered")
    m = client(node, me)
    actor = sales.add_actor("rep")
    uri = mention_from(hq, sales, actor, me)

    def mentions(user: User) -> list[dict[str, Any]]:
        answer = node.api(user, "GET", "/api/v1/notifications", params={"types[]": "mention"})
        return [n for n in answer.json() if n["status"]["uri"] == uri]

    def public_uris(user: User) -> list[str]:
        answer = node.api(user, "GET", "/api/v1/timelines/public", params={"limit": "40"})
        return [s["uri"] for s in answer.json()]

    first = wait_for(lambda: mentions(me), "the remote mention to arrive")
    remote_id = first[0]["account"]["id"]
    assert uri in public_uris(me)

    preview = node.api(me, "GET", "/api/v1/domain_blocks/preview", params={"domain": sales.domain})
    assert preview.json() == {"following_count": 0, "followers_count": 0}  # follows are kept
    m.domain_block(sales.domain)
    assert list(m.domain_blocks()) == [sales.domain]
    assert m.account_relationships(remote_id)[0]["domain_blocking"] is True
    assert mentions(me) == []
    assert uri not in public_uris(me)
    assert uri in public_uris(colleague)  # only for who blocked
    assert client(node, colleague).account_relationships(remote_id)[0]["domain_blocking"] is False

    later = mention_from(hq, sales, actor, me)
    wait_for(lambda: later in public_uris(colleague), "the second post to arrive")
    m.domain_unblock(sales.domain)
    assert m.account_relationships(remote_id)[0]["domain_blocking"] is False
    assert uri in public_uris(me)
    # What arrived while the node was blocked raised no notification.
    answer = node.api(me, "GET", "/api/v1/notifications", params={"types[]": "mention"})
    assert [n["status"]["uri"] for n in answer.json()] == [uri]
