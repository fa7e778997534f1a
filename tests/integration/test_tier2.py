"""What apps call right after login: markers, preferences, saved statuses and followed tags
really work; the rest answers validly even where the node has nothing to offer."""

from __future__ import annotations

import httpx
import pytest
from mastodon import Mastodon

from tests.integration.test_timelines import ids, post, word
from tests.kit import RunningNode, User

# method, path, status, JSON type of the answer
ANSWERS = [
    ("GET", "/api/v1/preferences", 200, dict),
    ("GET", "/api/v1/markers", 200, dict),
    ("GET", "/api/v1/filters", 200, list),
    ("GET", "/api/v2/filters", 200, list),
    ("GET", "/api/v1/custom_emojis", 200, list),
    ("GET", "/api/v1/lists", 200, list),
    ("GET", "/api/v1/bookmarks", 200, list),
    ("GET", "/api/v1/favourites", 200, list),
    ("GET", "/api/v1/followed_tags", 200, list),
    ("GET", "/api/v1/conversations", 200, list),
    ("GET", "/api/v1/trends", 200, list),
    ("GET", "/api/v1/trends/tags", 200, list),
    ("GET", "/api/v1/trends/statuses", 200, list),
    ("GET", "/api/v1/trends/links", 200, list),
    ("GET", "/api/v1/announcements", 200, list),
    ("GET", "/api/v1/suggestions", 200, list),
    ("GET", "/api/v2/suggestions", 200, list),
    ("GET", "/api/v1/directory", 200, list),
    ("GET", "/api/v1/notifications/requests", 200, list),
    ("GET", "/api/v1/notifications/policy", 200, dict),
    ("GET", "/api/v2/notifications/policy", 200, dict),
    ("PATCH", "/api/v2/notifications/policy", 200, dict),
    ("GET", "/api/v1/scheduled_statuses", 200, list),
    ("GET", "/api/v1/domain_blocks", 200, list),
    ("POST", "/api/v1/domain_blocks?domain=example.org", 200, dict),
    ("DELETE", "/api/v1/domain_blocks?domain=example.org", 200, dict),
    ("GET", "/api/v1/timelines/direct", 200, list),
    ("GET", "/api/v1/tags/flurfunk", 200, dict),
    ("GET", "/api/v1/push/subscription", 404, dict),
    ("POST", "/api/v1/conversations/123/read", 404, dict),
    ("DELETE", "/api/v1/conversations/123", 404, dict),
    ("POST", "/api/v1/announcements/123/dismiss", 404, dict),
    ("GET", "/api/v1/filters/123", 404, dict),
    ("GET", "/api/v2/filters/123", 404, dict),
    ("GET", "/api/v1/scheduled_statuses/123", 404, dict),
    ("GET", "/api/v1/notifications/requests/123", 404, dict),
    ("DELETE", "/api/v1/suggestions/123", 404, dict),  # no such account to dismiss
]


@pytest.fixture(scope="module")
def caller(node: RunningNode) -> User:
    """One user for the whole table: none of its calls changes anything another reads."""
    return node.create_user("caller")


@pytest.mark.parametrize(("method", "path", "status", "kind"), ANSWERS)
def test_endpoint_answers_valid_json(
    node: RunningNode, caller: User, method: str, path: str, status: int, kind: type
) -> None:
    response = node.api(caller, method, path)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert isinstance(response.json(), kind)
    if status == 404:
        assert response.json() == {"error": "Record not found"}


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/preferences",
        "/api/v1/markers",
        "/api/v1/filters",
        "/api/v1/lists",
        "/api/v1/bookmarks",
        "/api/v1/conversations",
        "/api/v1/notifications/requests",
        "/api/v1/push/subscription",
    ],
)
def test_private_endpoints_need_a_token(node: RunningNode, path: str) -> None:
    response = node.api(None, "GET", path)
    assert response.status_code == 401
    assert "error" in response.json()


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/custom_emojis",
        "/api/v1/trends",
        "/api/v1/directory",
        "/api/v1/timelines/public",
        "/api/v1/timelines/tag/flurfunk",
        "/api/v1/tags/flurfunk",
    ],
)
def test_public_endpoints_answer_anonymous_readers(node: RunningNode, path: str) -> None:
    assert node.api(None, "GET", path).status_code == 200


def test_scopes_are_enforced(node: RunningNode) -> None:
    statuses_only = node.create_user("narrow", scopes="read:statuses")
    assert node.api(statuses_only, "GET", "/api/v1/timelines/home").status_code == 200
    assert node.api(statuses_only, "GET", "/api/v1/markers").status_code == 200
    for path in ("/api/v1/lists", "/api/v1/bookmarks", "/api/v1/favourites", "/api/v1/preferences"):
        assert node.api(statuses_only, "GET", path).status_code == 403, path
    reader = node.create_user("reader", scopes="read")
    assert node.api(reader, "POST", "/api/v1/tags/flurfunk/follow").status_code == 403
    assert (
        node.api(reader, "POST", "/api/v1/markers", data={"home[last_read_id]": "1"}).status_code
        == 403
    )
    follower = node.create_user("follower", scopes="read follow")
    assert node.api(follower, "POST", "/api/v1/tags/flurfunk/follow").status_code == 200


def test_a_filter_without_context_is_refused_and_nothing_changes(
    node: RunningNode, alice: User
) -> None:
    created = node.api(alice, "POST", "/api/v2/filters", data={"title": "x"})
    assert created.status_code == 422
    assert "error" in created.json()
    assert node.api(alice, "GET", "/api/v2/filters").json() == []


def test_notification_policy_has_every_field(node: RunningNode, alice: User) -> None:
    policy = node.api(alice, "GET", "/api/v2/notifications/policy").json()
    assert policy["for_not_following"] == "accept"
    assert policy["summary"] == {"pending_requests_count": 0, "pending_notifications_count": 0}
    legacy = node.api(alice, "GET", "/api/v1/notifications/policy").json()
    assert legacy["filter_not_following"] is False
    bad = node.api(alice, "PATCH", "/api/v2/notifications/policy", data={"for_new_accounts": "x"})
    assert bad.status_code == 422


def test_directory_lists_local_discoverable_accounts(node: RunningNode, alice: User) -> None:
    newest = node.api(
        None, "GET", "/api/v1/directory", params={"order": "new", "local": "true", "limit": "80"}
    )
    assert alice.id in [a["id"] for a in newest.json()]
    hidden = node.api(
        alice, "PATCH", "/api/v1/accounts/update_credentials", data={"discoverable": "false"}
    )
    assert hidden.status_code == 200
    again = node.api(None, "GET", "/api/v1/directory", params={"order": "new", "limit": "80"})
    assert alice.id not in [a["id"] for a in again.json()]
    one = node.api(None, "GET", "/api/v1/directory", params={"limit": "1", "offset": "1"})
    assert len(one.json()) == 1
    assert node.api(None, "GET", "/api/v1/directory", params={"order": "x"}).status_code == 422


def test_markers_round_trip_with_versions(node: RunningNode, alice: User) -> None:
    assert node.api(alice, "GET", "/api/v1/markers").json() == {}
    first = node.api(alice, "POST", "/api/v1/markers", data={"home[last_read_id]": "1001"})
    assert first.status_code == 200, first.text
    assert first.json()["home"]["last_read_id"] == "1001"
    assert first.json()["home"]["version"] == 0
    second = node.api(
        alice,
        "POST",
        "/api/v1/markers",
        json={"home": {"last_read_id": "1002"}, "notifications": {"last_read_id": "7"}},
    )
    assert second.json()["home"]["version"] == 1
    assert second.json()["notifications"]["last_read_id"] == "7"
    got = node.api(alice, "GET", "/api/v1/markers", params={"timeline[]": "home"}).json()
    assert list(got) == ["home"]
    assert got["home"]["last_read_id"] == "1002"
    assert got["home"]["updated_at"].endswith("Z")
    both = node.api(
        alice,
        "GET",
        "/api/v1/markers",
        params=[("timeline[]", "home"), ("timeline[]", "notifications")],
    ).json()
    assert set(both) == {"home", "notifications"}
    bad = node.api(alice, "POST", "/api/v1/markers", data={"home[last_read_id]": "abc"})
    assert bad.status_code == 422
    assert node.api(alice, "GET", "/api/v1/markers").json()["home"]["last_read_id"] == "1002"


def test_preferences_follow_the_profile_settings(node: RunningNode, alice: User) -> None:
    assert node.api(alice, "GET", "/api/v1/preferences").json() == {
        "posting:default:visibility": "public",
        "posting:default:sensitive": False,
        "posting:default:language": None,
        "reading:expand:media": "default",
        "reading:expand:spoilers": False,
        "reading:autoplay:gifs": False,
    }
    changed = node.api(
        alice,
        "PATCH",
        "/api/v1/accounts/update_credentials",
        data={"source[privacy]": "unlisted", "source[sensitive]": "1", "source[language]": "de"},
    )
    assert changed.status_code == 200, changed.text
    prefs = node.api(alice, "GET", "/api/v1/preferences").json()
    assert prefs["posting:default:visibility"] == "unlisted"
    assert prefs["posting:default:sensitive"] is True
    assert prefs["posting:default:language"] == "de"


@pytest.mark.parametrize("kind", ["bookmark", "favourite"])
def test_saved_statuses_page_by_when_they_were_saved(
    node: RunningNode, alice: User, kind: str
) -> None:
    first, second, third = (post(node, alice, f"post {n}")["id"] for n in range(3))
    for status_id in (second, third, first):
        saved = node.api(alice, "POST", f"/api/v1/statuses/{status_id}/{kind}")
        assert saved.status_code == 200, saved.text
    path = f"/api/v1/{kind}s"
    page = node.api(alice, "GET", path, params={"limit": "2"})
    assert ids(page) == [first, third]
    rest = httpx.get(page.links["next"]["url"], headers={"Authorization": f"Bearer {alice.token}"})
    assert ids(rest) == [second]
    undone = node.api(alice, "POST", f"/api/v1/statuses/{third}/un{kind}")
    assert undone.status_code == 200
    assert ids(node.api(alice, "GET", path)) == [first, second]


def test_following_a_hashtag(node: RunningNode, alice: User) -> None:
    name = word()
    unused = node.api(alice, "GET", f"/api/v1/tags/{name}").json()
    assert unused["name"] == name
    assert unused["following"] is False
    followed = node.api(alice, "POST", f"/api/v1/tags/{name.upper()}/follow")
    assert followed.status_code == 200
    assert followed.json()["following"] is True
    assert followed.json()["name"] == name
    assert node.api(alice, "GET", f"/api/v1/tags/{name}").json()["following"] is True
    assert [t["name"] for t in node.api(alice, "GET", "/api/v1/followed_tags").json()] == [name]
    unfollowed = node.api(alice, "POST", f"/api/v1/tags/{name}/unfollow")
    assert unfollowed.json()["following"] is False
    assert node.api(alice, "GET", "/api/v1/followed_tags").json() == []
    assert node.api(alice, "POST", "/api/v1/tags/not-a-tag!/follow").status_code == 404


def test_mastodon_py_reads_the_tier2_endpoints(node: RunningNode, alice: User) -> None:
    api = Mastodon(access_token=alice.token, api_base_url=node.url)
    assert api.filters() == []
    assert api.filters_v2() == []
    assert api.custom_emojis() == []
    assert api.conversations() == []
    assert isinstance(api.trending_tags(), list)  # tests/integration/test_discovery.py
    assert api.announcements() == []
    assert all(str(s.account.id) != alice.id for s in api.suggestions_v2())
    assert api.scheduled_statuses() == []
    assert api.domain_blocks() == []
    assert api.followed_tags() == []
    assert api.notification_requests() == []
    assert api.notifications_policy().for_not_following == "accept"
    assert isinstance(api.directory(local=True), list)
    tag = api.tag_follow("mastodonpy")
    assert tag.following is True
    assert api.tag("mastodonpy").following is True
    assert [t.name for t in api.followed_tags()] == ["mastodonpy"]
    assert api.tag_unfollow("mastodonpy").following is False
