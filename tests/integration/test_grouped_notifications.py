"""Grouped notifications (Mastodon 4.3) through Mastodon.py and plain HTTP against a running
node: favourites of one status form one group, mentions stay single, a group can be read,
listed by account, dismissed, and unread groups count against the notifications marker."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from mastodon import Mastodon
from mastodon.errors import MastodonNotFoundError

from tests.integration.test_notifications import next_link, post
from tests.kit import RunningNode, User


def client(node: RunningNode, user: User) -> Mastodon:
    # "created": Mastodon.py refuses 4.3 methods unless the node says it is at least 4.3.0.
    return Mastodon(access_token=user.token, api_base_url=node.url, version_check_mode="created")


def grouped(node: RunningNode, user: User, params: Any = None) -> httpx.Response:
    response = node.api(user, "GET", "/api/v2/notifications", params=params)
    assert response.status_code == 200, response.text
    return response


def favourite(node: RunningNode, user: User, status: dict[str, Any]) -> None:
    node.api(user, "POST", f"/api/v1/statuses/{status['id']}/favourite").raise_for_status()


def test_two_favourites_of_one_status_are_one_group(
    node: RunningNode, alice: User, bob: User
) -> None:
    carol = node.create_user("carol")
    status = post(node, alice, "Lunch at noon?")
    favourite(node, bob, status)
    favourite(node, carol, status)
    post(node, bob, f"@{alice.name} see you there")

    m = client(node, alice)
    assert m.mastodon_api_version == 2
    results = m.grouped_notifications(expand_accounts="full")
    groups = results.notification_groups
    assert [g.type for g in groups] == ["mention", "favourite"]
    mention, favourites = groups
    assert mention.notifications_count == 1
    assert mention.group_key.startswith("ungrouped-")
    assert favourites.notifications_count == 2
    assert favourites.sample_account_ids == [carol.id, bob.id]  # newest first
    assert favourites.status_id == status["id"]
    # The page reaches down to this group's newest notification only (it is the last group),
    # so that is all of it the page represents.
    assert favourites.page_min_id == favourites.page_max_id
    assert favourites.page_max_id == favourites.most_recent_notification_id
    assert favourites.latest_page_notification_at is not None
    assert {a.id for a in results.accounts} == {bob.id, carol.id}
    assert status["id"] in {s.id for s in results.statuses}

    # Mastodon.py's default: each group's newest sender in full, the others partial.
    partial = m.grouped_notifications()
    assert {a.id for a in partial.accounts} == {bob.id, carol.id}  # each newest somewhere
    only_favourites = m.grouped_notifications(types=["favourite"])
    assert [a.id for a in only_favourites.accounts] == [carol.id]
    assert [a.id for a in only_favourites.partial_accounts] == [bob.id]
    raw = grouped(node, alice, {"types[]": "favourite", "expand_accounts": "partial_avatars"})
    partial_fields = {"id", "acct", "url", "avatar", "avatar_static", "locked", "bot"}
    assert set(raw.json()["partial_accounts"][0]) == partial_fields

    # The v1 list names the same group for both favourites.
    v1 = m.notifications(types=["favourite"])
    assert {n.group_key for n in v1} == {favourites.group_key}


def test_a_group_read_listed_and_dismissed(node: RunningNode, alice: User, bob: User) -> None:
    carol = node.create_user("carol")
    status = post(node, alice, "Quarterly numbers are in")
    favourite(node, bob, status)
    favourite(node, carol, status)
    m = client(node, alice)
    key = m.grouped_notifications(types=["favourite"]).notification_groups[0].group_key

    one = m.grouped_notification(key)
    assert [g.notifications_count for g in one.notification_groups] == [2]
    raw = node.api(alice, "GET", f"/api/v2/notifications/{key}").json()
    assert "page_min_id" not in raw["notification_groups"][0]  # only when paging
    assert [a.id for a in m.grouped_notification_accounts(key)] == [carol.id, bob.id]
    assert m.grouped_notification(key).notification_groups[0].group_key == key
    # Favourites shown one by one (grouped_types without favourite) name one account each.
    single = m.grouped_notifications(types=["favourite"], grouped_types=["follow"])
    newest = single.notification_groups[0]
    assert newest.group_key == f"ungrouped-{newest.most_recent_notification_id}"
    assert [a.id for a in m.grouped_notification_accounts(newest.group_key)] == [carol.id]
    assert m.grouped_notification(newest.group_key).notification_groups[0].notifications_count == 1

    m.dismiss_grouped_notification(key)
    assert m.grouped_notifications(types=["favourite"]).notification_groups == []
    assert m.notifications(types=["favourite"]) == []  # both notifications are gone
    with pytest.raises(MastodonNotFoundError):
        m.grouped_notification(key)
    with pytest.raises(MastodonNotFoundError):
        m.dismiss_grouped_notification(key)
    # Another reader's key names nothing of bob's.
    with pytest.raises(MastodonNotFoundError):
        client(node, bob).grouped_notification(key)


def test_unread_counts_follow_the_marker(node: RunningNode, alice: User, bob: User) -> None:
    carol = node.create_user("carol")
    status = post(node, alice, "Who is in for the offsite?")
    favourite(node, bob, status)
    favourite(node, carol, status)
    post(node, bob, f"@{alice.name} me")
    m = client(node, alice)
    assert m.unread_grouped_notifications_count() == 2  # the favourites, the mention
    assert m.notifications_unread_count()["count"] == 3
    assert m.unread_grouped_notifications_count(types=["mention"]) == 1
    assert m.unread_grouped_notifications_count(grouped_types=["reblog"]) == 3

    newest = m.notifications(limit=1)[0]
    m.markers_set(["notifications"], [newest.id])
    assert m.unread_grouped_notifications_count() == 0
    assert m.notifications_unread_count()["count"] == 0

    dave = node.create_user("dave")
    favourite(node, dave, status)
    assert m.unread_grouped_notifications_count() == 1
    # The group it joins counts all three favourites, read or not.
    groups = m.grouped_notifications(types=["favourite"]).notification_groups
    assert [g.notifications_count for g in groups] == [3]


def test_grouped_types_and_paging(node: RunningNode, alice: User, bob: User) -> None:
    carol = node.create_user("carol")
    first = post(node, alice, "First post")
    second = post(node, alice, "Second post")
    for status in (first, second):
        favourite(node, bob, status)
        favourite(node, carol, status)
    node.api(bob, "POST", f"/api/v1/accounts/{alice.id}/follow").raise_for_status()
    node.api(carol, "POST", f"/api/v1/accounts/{alice.id}/follow").raise_for_status()

    groups = grouped(node, alice).json()["notification_groups"]
    assert [(g["type"], g["notifications_count"]) for g in groups] == [
        ("follow", 2),
        ("favourite", 2),
        ("favourite", 2),
    ]
    assert [g.get("status_id") for g in groups] == [None, second["id"], first["id"]]
    # Both favourites of the second post lie inside the page, those of the first reach below.
    assert int(groups[1]["page_min_id"]) < int(groups[1]["page_max_id"])
    assert groups[2]["page_min_id"] == groups[2]["page_max_id"]

    ungrouped = grouped(node, alice, [("grouped_types[]", "follow")]).json()
    kinds = [(g["type"], g["notifications_count"]) for g in ungrouped["notification_groups"]]
    assert kinds == [("follow", 2)] + [("favourite", 1)] * 4
    assert all(
        g["group_key"] == f"ungrouped-{g['most_recent_notification_id']}"
        for g in ungrouped["notification_groups"][1:]
    )

    # A group that reaches below a page shows again on the next one (as in Mastodon), with
    # what it holds up to there; apps merge by group_key.
    seen: list[str] = []
    response = grouped(node, alice, {"limit": 1})
    while True:
        page = response.json()["notification_groups"]
        seen += [g["group_key"] for g in page]
        link = next_link(response)
        if not page or link is None:
            break
        response = httpx.get(link, headers={"Authorization": f"Bearer {alice.token}"}, timeout=30)
        assert response.status_code == 200
    assert list(dict.fromkeys(seen)) == [g["group_key"] for g in groups]

    from_bob = grouped(node, alice, {"account_id": bob.id}).json()
    assert [g["group_key"] for g in from_bob["notification_groups"]] == [
        g["group_key"] for g in groups
    ]
    assert all(bob.id in g["sample_account_ids"] for g in from_bob["notification_groups"])
    newer = grouped(node, alice, {"min_id": groups[1]["most_recent_notification_id"]}).json()
    assert [g["type"] for g in newer["notification_groups"]] == ["follow"]


def test_bad_group_keys_and_parameters(node: RunningNode, alice: User) -> None:
    for key in ("nonsense", "favourite-1-2-3", "ungrouped-99999999999999999999", "follow-x"):
        response = node.api(alice, "GET", f"/api/v2/notifications/{key}")
        assert response.status_code == 404
        assert response.json() == {"error": "Record not found"}
    response = node.api(alice, "GET", "/api/v2/notifications", params={"expand_accounts": "x"})
    assert response.status_code == 422
    assert node.api(None, "GET", "/api/v2/notifications").status_code == 401
