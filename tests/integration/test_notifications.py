"""Notifications through real clients: listing, filtering, paging, dismissing, counting."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from mastodon import Mastodon
from mastodon.errors import MastodonNotFoundError

from tests.kit import RunningNode, User


def client(node: RunningNode, user: User) -> Mastodon:
    return Mastodon(access_token=user.token, api_base_url=node.url)


def post(node: RunningNode, user: User, text: str, **extra: Any) -> dict[str, Any]:
    response = node.api(user, "POST", "/api/v1/statuses", data={"status": text, **extra})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def listed(node: RunningNode, user: User, params: Any = None) -> httpx.Response:
    response = node.api(user, "GET", "/api/v1/notifications", params=params)
    assert response.status_code == 200, response.text
    return response


def next_link(response: httpx.Response) -> str | None:
    for part in response.headers.get("link", "").split(","):
        url, _, rel = part.partition(";")
        if 'rel="next"' in rel:
            return url.strip().strip("<>")
    return None


def test_types_senders_and_exclusions(node: RunningNode, alice: User, bob: User) -> None:
    carol = node.create_user("carol")
    status = post(node, alice, "Notice me")
    node.api(bob, "POST", f"/api/v1/statuses/{status['id']}/favourite").raise_for_status()
    node.api(carol, "POST", f"/api/v1/statuses/{status['id']}/reblog").raise_for_status()
    post(node, carol, f"@{alice.name} hello")

    everything = listed(node, alice).json()
    assert [n["type"] for n in everything] == ["mention", "reblog", "favourite"]  # newest first
    for n in everything:
        assert {"id", "type", "created_at", "account"} <= set(n)
        assert n["id"].isdigit()
    only = listed(node, alice, [("types[]", "favourite"), ("types[]", "reblog")]).json()
    assert [n["type"] for n in only] == ["reblog", "favourite"]
    without = listed(node, alice, [("exclude_types[]", "mention")]).json()
    assert [n["type"] for n in without] == ["reblog", "favourite"]
    from_carol = listed(node, alice, {"account_id": carol.id}).json()
    assert [n["type"] for n in from_carol] == ["mention", "reblog"]
    m = client(node, alice)
    assert [n["type"] for n in m.notifications(exclude_types=["reblog", "mention"])] == [
        "favourite"
    ]


def test_paging_with_link_headers(node: RunningNode, alice: User, bob: User) -> None:
    for i in range(45):
        post(node, bob, f"@{alice.name} ping {i}")
    first = listed(node, alice)
    assert len(first.json()) == 40
    link = next_link(first)
    assert link is not None
    assert link.startswith(node.url)
    second = httpx.get(link, headers={"Authorization": f"Bearer {alice.token}"}, timeout=30)
    assert len(second.json()) == 5
    ids = [n["id"] for n in first.json() + second.json()]
    assert len(set(ids)) == 45
    assert ids == sorted(ids, key=int, reverse=True)
    assert len(listed(node, alice, {"limit": 200}).json()) == 45  # at most 80 a page

    m = client(node, alice)
    page = m.notifications(limit=30)
    rest = m.fetch_next(page)
    assert rest is not None
    assert len(page) + len(rest) == 45


def test_one_dismiss_clear_and_unread_count(node: RunningNode, alice: User, bob: User) -> None:
    m = client(node, alice)
    for i in range(3):
        post(node, bob, f"@{alice.name} number {i}")
    newest, middle, oldest = m.notifications()
    assert m.notifications(id=middle["id"])["type"] == "mention"
    assert node.api(alice, "GET", "/api/v1/notifications/unread_count").json() == {"count": 3}

    marker = node.api(
        alice, "POST", "/api/v1/markers", data={"notifications[last_read_id]": str(oldest["id"])}
    )
    assert marker.status_code == 200, marker.text
    assert node.api(alice, "GET", "/api/v1/notifications/unread_count").json() == {"count": 2}

    m.notifications_dismiss(middle["id"])
    with pytest.raises(MastodonNotFoundError):
        m.notifications(id=middle["id"])
    legacy = node.api(alice, "POST", "/api/v1/notifications/dismiss", data={"id": newest["id"]})
    assert (legacy.status_code, legacy.json()) == (200, {})
    assert [n["id"] for n in m.notifications()] == [oldest["id"]]
    assert node.api(bob, "POST", f"/api/v1/notifications/{oldest['id']}/dismiss").status_code == (
        404
    )  # not bob's
    m.notifications_clear()
    assert m.notifications() == []
    assert node.api(alice, "GET", "/api/v1/notifications/123").status_code == 404
    assert node.api(alice, "GET", "/api/v1/notifications/abc").status_code == 404


def test_notifications_about_statuses_one_can_no_longer_see_are_hidden(
    node: RunningNode, alice: User, bob: User
) -> None:
    status = post(node, bob, f"@{alice.name} look at this")
    assert [n["type"] for n in listed(node, alice).json()] == ["mention"]
    notification_id = listed(node, alice).json()[0]["id"]
    blocked = node.api(bob, "POST", f"/api/v1/accounts/{alice.id}/block")
    assert blocked.status_code == 200, blocked.text
    assert listed(node, alice).json() == []
    assert node.api(alice, "GET", f"/api/v1/notifications/{notification_id}").status_code == 404
    assert node.api(alice, "GET", f"/api/v1/statuses/{status['id']}").status_code == 404


def test_deleting_a_status_withdraws_its_notifications(
    node: RunningNode, alice: User, bob: User
) -> None:
    status = post(node, bob, f"@{alice.name} draft")
    assert len(listed(node, alice).json()) == 1
    assert node.api(bob, "DELETE", f"/api/v1/statuses/{status['id']}").status_code == 200
    assert listed(node, alice).json() == []


def test_scopes(node: RunningNode, alice: User) -> None:
    assert node.api(None, "GET", "/api/v1/notifications").status_code == 401
    reader = node.create_user("reader", scopes="read")
    assert node.api(reader, "GET", "/api/v1/notifications").status_code == 200
    assert node.api(reader, "POST", "/api/v1/notifications/clear").status_code == 403
    writer = node.create_user("writer", scopes="write")
    assert node.api(writer, "GET", "/api/v1/notifications").status_code == 403
    assert node.api(writer, "POST", "/api/v1/notifications/clear").status_code == 200
    granular = node.create_user("granular", scopes="read:notifications")
    assert node.api(granular, "GET", "/api/v1/notifications/unread_count").status_code == 200


def test_subscribers_hear_of_new_posts(node: RunningNode, alice: User, bob: User) -> None:
    followed = node.api(bob, "POST", f"/api/v1/accounts/{alice.id}/follow", data={"notify": "1"})
    assert followed.status_code == 200, followed.text
    assert followed.json()["notifying"] is True
    status = post(node, alice, "Fresh news")
    post(node, alice, "A direct word", visibility="direct")
    news = listed(node, bob, [("types[]", "status")]).json()
    assert [n["status"]["id"] for n in news] == [status["id"]]
