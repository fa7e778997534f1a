"""Explore across the company: trends, the directory and suggestions, seen from Mastodon.py
against two running nodes (hq, and sales where trends need an admin's approval)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from mastodon import Mastodon

from tests.federation_kit import (
    FedNode,
    Network,
    Plan,
    follows,
    network,
    post,
    remote_account,
    wait_for,
)
from tests.kit import RunningNode, User

LINK = "https://intranet.corp.example/rollout-plan"


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    plans = {
        "hq": Plan(allow=("sales",), env={"FLURFUNK_TRENDS_INTERVAL": "1"}),
        "sales": Plan(
            allow=("hq",),
            env={"FLURFUNK_TRENDS_INTERVAL": "1", "FLURFUNK_TRENDS_REVIEW": "true"},
        ),
    }
    with network(tmp_path_factory.mktemp("discovery"), "sqlite", plans) as running:
        yield running


def client(node: FedNode, user: User | str) -> Mastodon:
    token = user if isinstance(user, str) else user.token
    return Mastodon(access_token=token, api_base_url=node.url)


def admin(node: FedNode) -> User:
    """The node's first admin, with a token that may also review."""
    scopes = "read write admin:read admin:write"
    result = node.cli("user", "token", "admin", "--scopes", scopes)
    return User("admin", "", "", result.stdout.strip().splitlines()[-1])


def tag_names(node: FedNode, user: User) -> list[str]:
    return [t["name"] for t in client(node, user).trending_tags(limit=20)]


def test_a_tag_three_people_use_across_nodes_trends_above_one_person_repeating_one(
    net: Network,
) -> None:
    hq, sales = net["hq"], net["sales"]
    ada, ben, spammer = hq.create_user("ada"), hq.create_user("ben"), hq.create_user("spam")
    sara = sales.create_user("sara")
    follows(hq, ada, sales, sara)
    for _ in range(5):
        post(hq, spammer, "again #lunchtalk")
    post(hq, ada, "Starting the #rollout today")
    post(hq, ben, f"Notes for the #rollout: {LINK}")
    post(hq, ada, f"Read this first {LINK}")
    remote = post(sales, sara, "Sales is ready for the #rollout")

    # The post from sales reaches hq, and the next computation ranks by people, not posts.
    def ranked() -> list[tuple[str, str]] | None:
        tags = client(hq, ada).trending_tags(limit=20)
        top = [(t["name"], t["history"][0]["accounts"]) for t in tags[:2]]
        return top if top == [("rollout", "3"), ("lunchtalk", "1")] else None

    wait_for(ranked, "rollout (3 people) trending above lunchtalk (1 person) on hq")
    tags = {t["name"]: t for t in client(hq, ada).trending_tags()}
    today = tags["rollout"]["history"][0]
    assert (int(today["accounts"]), int(today["uses"])) == (3, 3)
    assert len(tags["rollout"]["history"]) == 7
    assert (int(tags["lunchtalk"]["history"][0]["uses"])) == 5
    assert tags["rollout"]["url"].endswith("/tags/rollout")
    # Paged by offset, as Mastodon does.
    first = client(hq, ada).trending_tags(limit=1)
    assert [t["name"] for t in first] == ["rollout"]
    assert [t["name"] for t in client(hq, ada).fetch_next(first)] == ["lunchtalk"]

    links = wait_for(lambda: client(hq, ada).trending_links(), "a trending link")
    assert links[0]["url"] == LINK
    assert int(links[0]["history"][0]["accounts"]) == 2
    assert links[0]["type"] == "link"
    assert links[0]["title"] == ""

    # A post that two people favourite trends; the one nobody touched does not.
    on_hq = wait_for(
        lambda: next(
            (s for s in client(hq, ada).timeline_home() if s["uri"] == remote["uri"]), None
        ),
        "sara's post on hq",
    )
    client(hq, ada).status_favourite(on_hq["id"])
    client(hq, ben).status_reblog(on_hq["id"])
    trending = wait_for(lambda: client(hq, ben).trending_statuses(), "a trending post on hq")
    assert [s["uri"] for s in trending] == [remote["uri"]]
    assert all(s["visibility"] == "public" for s in trending)

    # Admins hide a post and a link the same way as a hashtag.
    operator = admin(hq)
    listed = client(hq, operator).admin_trending_statuses()
    assert [s["uri"] for s in listed] == [remote["uri"]]
    hidden = hq.api(operator, "POST", f"/api/v1/admin/trends/statuses/{listed[0]['id']}/reject")
    assert hidden.status_code == 200, hidden.text
    assert client(hq, ben).trending_statuses() == []
    link_id = client(hq, operator).admin_trending_links()[0]["id"]
    assert hq.api(operator, "POST", f"/api/v1/admin/trends/links/{link_id}/reject").is_success
    assert client(hq, ben).trending_links() == []


def test_an_admin_hides_a_trending_tag(net: Network) -> None:
    hq = net["hq"]
    a, b = hq.create_user("hide"), hq.create_user("hide")
    post(hq, a, "#gossip is fun")
    post(hq, b, "more #gossip")
    wait_for(lambda: "gossip" in tag_names(hq, a) or None, "gossip trending")
    operator = admin(hq)
    listed = client(hq, operator).admin_trending_tags()
    gossip = next(t for t in listed if t["name"] == "gossip")
    assert gossip["trendable"] is True
    reject = hq.api(operator, "POST", f"/api/v1/admin/trends/tags/{gossip['id']}/reject")
    assert reject.status_code == 200, reject.text
    assert "gossip" not in tag_names(hq, a)
    # Hidden for good: later computations keep it hidden.
    post(hq, hq.create_user("hide"), "#gossip again")
    wait_for(
        lambda: next(
            (
                int(t["history"][0]["uses"]) == 3
                for t in client(hq, operator).admin_trending_tags()
                if t["name"] == "gossip"
            ),
            None,
        ),
        "the third use counted",
    )
    assert "gossip" not in tag_names(hq, a)
    bad = hq.api(a, "GET", "/api/v1/trends/tags", params={"limit": "many"})
    assert bad.status_code == 422
    assert "limit" in bad.json()["error"]
    assert hq.api(operator, "POST", "/api/v1/admin/trends/links/abc/reject").status_code == 404
    assert hq.api(operator, "POST", "/api/v1/admin/trends/moods/1/reject").status_code == 404
    # Plain users may not review.
    refused = hq.api(a, "POST", f"/api/v1/admin/trends/tags/{gossip['id']}/approve")
    assert refused.status_code == 403


def test_in_review_mode_a_tag_shows_only_once_approved(net: Network) -> None:
    sales = net["sales"]
    one, two = sales.create_user("rev"), sales.create_user("rev")
    post(sales, one, "#quarterly numbers are in")
    post(sales, two, "#quarterly party")
    operator = admin(sales)
    pending = wait_for(
        lambda: next(
            (t for t in client(sales, operator).admin_trending_tags() if t["name"] == "quarterly"),
            None,
        ),
        "quarterly waiting for review",
    )
    assert pending["requires_review"] is True
    assert "quarterly" not in tag_names(sales, one)
    approve = sales.api(operator, "POST", f"/api/v1/admin/trends/tags/{pending['id']}/approve")
    assert approve.status_code == 200, approve.text
    assert approve.json()["requires_review"] is False
    assert "quarterly" in tag_names(sales, one)
    unknown = sales.api(operator, "POST", "/api/v1/admin/trends/tags/12345/approve")
    assert unknown.status_code == 404
    assert unknown.json() == {"error": "Record not found"}


def directory(node: FedNode, user: User, **params: Any) -> list[str]:
    answer = node.api(user, "GET", "/api/v1/directory", params={"limit": 80, **params})
    assert answer.status_code == 200, answer.text
    return [a["acct"] for a in answer.json()]


def test_the_directory_lists_discoverable_colleagues_of_allowed_nodes(net: Network) -> None:
    hq, sales = net["hq"], net["sales"]
    reader = hq.create_user("reader")
    shown, hidden = sales.create_user("shown"), sales.create_user("hidden")
    client(sales, shown).account_update_credentials(
        fields=[("Department", "Vertrieb Nord"), ("Location", "Hamburg")]
    )
    client(sales, hidden).account_update_credentials(discoverable=False)
    remote_account(hq, reader, sales, shown)
    remote_account(hq, reader, sales, hidden)
    everyone = directory(hq, reader)
    assert f"{shown.name}@{sales.domain}" in everyone
    assert f"{hidden.name}@{sales.domain}" not in everyone
    assert reader.name in everyone
    assert directory(hq, reader, local="true") == [
        a for a in directory(hq, reader, local="true") if "@" not in a
    ]
    assert f"{shown.name}@{sales.domain}" not in directory(hq, reader, local="true")
    assert directory(hq, reader, q="hamburg") == [f"{shown.name}@{sales.domain}"]
    assert directory(hq, reader, q="Vertrieb") == [f"{shown.name}@{sales.domain}"]
    # Mastodon.py's directory call reads the same list.
    listed = client(hq, reader).directory(limit=80)
    assert f"{shown.name}@{sales.domain}" in [a["acct"] for a in listed]
    too_long = hq.api(reader, "GET", "/api/v1/directory", params={"q": "x" * 201})
    assert too_long.status_code == 422


def test_suggestions_bring_department_colleagues_and_dismissals_stick(net: Network) -> None:
    hq = net["hq"]
    me, mate, blocked = hq.create_user("me"), hq.create_user("mate"), hq.create_user("blk")
    friend, friends_friend = hq.create_user("fr"), hq.create_user("frfr")
    for user in (me, mate, blocked):
        client(hq, user).account_update_credentials(fields=[("Department", "Payroll")])
    api = client(hq, me)
    api.account_block(blocked.id)
    api.account_follow(friend.id)
    client(hq, friend).account_follow(friends_friend.id)

    found = {s["account"]["id"]: s for s in api.suggestions_v2()}
    assert "department" in found[mate.id]["sources"]
    assert "friends_of_friends" in found[friends_friend.id]["sources"]
    assert blocked.id not in found
    assert me.id not in found
    assert friend.id not in found  # already followed
    ranked = list(found)
    assert ranked.index(mate.id) < ranked.index(friends_friend.id)
    assert mate.id in [a["id"] for a in api.suggestions_v1()]

    api.suggestion_delete(mate.id)
    assert mate.id not in [s["account"]["id"] for s in api.suggestions_v2()]
    assert mate.id not in [s["account"]["id"] for s in client(hq, me).suggestions_v2()]
    missing = hq.api(me, "DELETE", "/api/v1/suggestions/123")
    assert missing.status_code == 404
    assert missing.json() == {"error": "Record not found"}


def test_department_search_and_suggestions_on_each_database(node: RunningNode) -> None:
    """The same profile-field look-ups on SQLite and PostgreSQL (JSON stored as text there
    and as json here), including a department beyond ASCII."""
    me, mate, other = node.create_user("me"), node.create_user("mate"), node.create_user("oth")
    department = f"Büro {secrets.token_hex(3)}"
    for user, value in ((me, department), (mate, department), (other, "Einkauf")):
        Mastodon(access_token=user.token, api_base_url=node.url).account_update_credentials(
            fields=[("Abteilung", value), ("Standort", "Köln")]
        )
    found = node.api(me, "GET", "/api/v1/directory", params={"q": department, "limit": 80})
    assert sorted(a["acct"] for a in found.json()) == sorted([me.name, mate.name])
    upper = node.api(me, "GET", "/api/v1/directory", params={"q": department.upper()})
    assert sorted(a["acct"] for a in upper.json()) == sorted([me.name, mate.name])
    suggested = node.api(me, "GET", "/api/v2/suggestions", params={"limit": 80}).json()
    reasons = {s["account"]["id"]: s["sources"] for s in suggested}
    assert "department" in reasons[mate.id]
    assert "department" not in reasons.get(other.id, [])
