"""GET /api/v1/timelines/link (Mastodon 4.3): the public posts that link to one URL."""

from __future__ import annotations

import secrets

from mastodon import Mastodon

from tests.integration.test_timelines import follow, ids, post
from tests.kit import RunningNode, User


def test_posts_linking_to_a_url(node: RunningNode, alice: User, bob: User) -> None:
    carol = node.create_user("carol")
    page = f"https://intranet.corp.example/news/{secrets.token_hex(4)}?lang=de&print=1"
    linking = post(node, alice, f"Read this: {page}")
    follow(node, carol, bob)
    post(node, bob, f"Followers only: {page}", visibility="private")
    post(node, bob, f"Not quite the same page: {page}&x=2")
    post(node, bob, f"Only mentioning the text intranet.corp.example/news, no link to {page[8:]}x")
    reply = post(node, carol, f"Agreed, {page}", in_reply_to_id=linking["id"])
    node.api(bob, "POST", f"/api/v1/statuses/{linking['id']}/reblog").raise_for_status()

    found = node.api(carol, "GET", "/api/v1/timelines/link", params={"url": page})
    assert found.status_code == 200, found.text
    # Public posts only, even for a follower; no boosts; newest first.
    assert ids(found) == [reply["id"], linking["id"]]
    anonymous = node.api(None, "GET", "/api/v1/timelines/link", params={"url": page})
    assert ids(anonymous) == [reply["id"], linking["id"]]

    node.api(alice, "POST", f"/api/v1/accounts/{carol.id}/block").raise_for_status()
    assert ids(node.api(alice, "GET", "/api/v1/timelines/link", params={"url": page})) == [
        linking["id"]
    ]


def test_mastodon_py_reads_the_link_timeline(node: RunningNode, alice: User, bob: User) -> None:
    # Mastodon.py puts the URL into the path unencoded, so this one has no query of its own.
    page = f"https://wiki.corp.example/handbook/{secrets.token_hex(4)}"
    older = post(node, alice, f"The handbook: {page}")
    newer = post(node, bob, f"Also see {page}")
    m = Mastodon(access_token=bob.token, api_base_url=node.url, version_check_mode="created")
    assert [s.id for s in m.timeline_link(page)] == [newer["id"], older["id"]]
    first = m.timeline_link(page, limit=1)
    assert [s.id for s in first] == [newer["id"]]
    assert [s.id for s in m.fetch_next(first)] == [older["id"]]


def test_the_url_is_required_and_checked(node: RunningNode, alice: User) -> None:
    for params in ({}, {"url": "not a url"}, {"url": "ftp://files.corp.example/x"}):
        response = node.api(alice, "GET", "/api/v1/timelines/link", params=params)
        assert response.status_code == 422, params
        assert response.json()["error"].startswith("Validation failed")
    unseen = {"url": "https://nobody.corp.example/never-linked"}
    assert node.api(alice, "GET", "/api/v1/timelines/link", params=unseen).json() == []
