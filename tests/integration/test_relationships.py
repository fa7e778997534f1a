"""Follows, follow requests, blocks and mutes, driven by Mastodon.py as an app would."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from mastodon import Mastodon
from mastodon.errors import MastodonAPIError, MastodonNotFoundError

from tests.kit import RunningNode, User


def client(node: RunningNode, user: User) -> Mastodon:
    return Mastodon(access_token=user.token, api_base_url=node.url)


def home_ids(node: RunningNode, user: User) -> list[str]:
    return [str(s["id"]) for s in client(node, user).timeline_home(limit=40)]


def counts(node: RunningNode, user: User) -> tuple[int, int]:
    a = client(node, user).account(user.id)
    return a["followers_count"], a["following_count"]


def notification_types(node: RunningNode, user: User, from_user: User) -> list[str]:
    response = node.api(user, "GET", "/api/v1/notifications")
    assert response.status_code == 200, response.text
    return [n["type"] for n in response.json() if n["account"]["id"] == from_user.id]


def test_follow_brings_posts_home_and_unfollow_takes_them_away(
    node: RunningNode, alice: User, bob: User
) -> None:
    a, b = client(node, alice), client(node, bob)
    earlier = b.status_post("posted before anyone followed")
    relationship = a.account_follow(bob.id)
    assert relationship["following"] is True
    assert relationship["requested"] is False
    later = b.status_post("posted after alice followed")
    home = home_ids(node, alice)
    assert str(earlier["id"]) in home  # brought in when the follow began
    assert str(later["id"]) in home  # delivered when written
    assert counts(node, bob) == (1, 0)
    assert counts(node, alice) == (0, 1)
    assert notification_types(node, bob, alice) == ["follow"]
    assert b.account_relationships(alice.id)[0]["followed_by"] is True

    a.account_unfollow(bob.id)
    home = home_ids(node, alice)
    assert str(earlier["id"]) not in home
    assert str(later["id"]) not in home
    assert counts(node, bob) == (0, 0)
    assert counts(node, alice) == (0, 0)


def test_follow_and_unfollow_are_idempotent(node: RunningNode, alice: User, bob: User) -> None:
    a = client(node, alice)
    for _ in range(3):
        assert a.account_follow(bob.id, reblogs=False)["following"] is True
    assert counts(node, bob) == (1, 0)
    relationship = a.account_relationships(bob.id)[0]
    assert relationship["showing_reblogs"] is False
    # Following again changes only the options sent (Mastodon.py always sends `reblogs`).
    again = node.api(alice, "POST", f"/api/v1/accounts/{bob.id}/follow", data={"notify": "1"})
    assert again.json()["notifying"] is True
    assert again.json()["showing_reblogs"] is False
    for _ in range(2):
        assert a.account_unfollow(bob.id)["following"] is False
    assert counts(node, bob) == (0, 0)
    assert counts(node, alice) == (0, 0)


def test_locked_account_request_authorize_and_reject(node: RunningNode, alice: User) -> None:
    locked = node.create_user("locked", locked=True)
    dave = node.create_user("dave")
    a, d, owner = client(node, alice), client(node, dave), client(node, locked)
    waiting = a.account_follow(locked.id)
    assert waiting["requested"] is True
    assert waiting["following"] is False
    d.account_follow(locked.id)
    assert [str(x["id"]) for x in owner.follow_requests()] == [dave.id, alice.id]
    assert notification_types(node, locked, alice) == ["follow_request"]
    assert counts(node, locked) == (0, 0)
    assert a.account_relationships(locked.id)[0]["requested"] is True
    assert owner.account_relationships(alice.id)[0]["requested_by"] is True

    accepted = owner.follow_request_authorize(alice.id)
    assert accepted["followed_by"] is True
    assert a.account_relationships(locked.id)[0]["following"] is True
    assert counts(node, locked) == (1, 0)
    assert counts(node, alice) == (0, 1)
    # As on Mastodon: the request's notification goes, no `follow` notification comes.
    assert notification_types(node, locked, alice) == []

    rejected = owner.follow_request_reject(dave.id)
    assert rejected["followed_by"] is False
    assert rejected["requested_by"] is False
    assert d.account_relationships(locked.id)[0]["requested"] is False
    assert owner.follow_requests() == []
    assert counts(node, locked) == (1, 0)
    with pytest.raises(MastodonNotFoundError):
        owner.follow_request_reject(dave.id)


def test_unfollow_withdraws_a_pending_request(node: RunningNode, alice: User) -> None:
    locked = node.create_user("shy", locked=True)
    a = client(node, alice)
    a.account_follow(locked.id)
    withdrawn = a.account_unfollow(locked.id)
    assert withdrawn["requested"] is False
    assert client(node, locked).follow_requests() == []
    assert notification_types(node, locked, alice) == []


def test_block_unfollows_both_ways_and_hides(node: RunningNode, alice: User, bob: User) -> None:
    a, b = client(node, alice), client(node, bob)
    a.account_follow(bob.id)
    b.account_follow(alice.id)
    bobs_post = b.status_post("bob speaking")
    alices_post = a.status_post("alice speaking")
    assert str(bobs_post["id"]) in home_ids(node, alice)

    blocked = a.account_block(bob.id)
    assert blocked["blocking"] is True
    assert blocked["following"] is False
    assert blocked["followed_by"] is False
    assert counts(node, alice) == (0, 0)
    assert counts(node, bob) == (0, 0)
    assert str(bobs_post["id"]) not in home_ids(node, alice)
    assert str(alices_post["id"]) not in home_ids(node, bob)
    assert b.account_relationships(alice.id)[0]["blocked_by"] is True
    assert [str(x["id"]) for x in a.blocks()] == [bob.id]
    assert str(alices_post["id"]) not in [str(s["id"]) for s in b.account_statuses(alice.id)]

    refused = node.api(bob, "POST", f"/api/v1/accounts/{alice.id}/follow")
    assert refused.status_code == 403
    assert "error" in refused.json()

    assert a.account_block(bob.id)["blocking"] is True  # again: no change, no error
    assert a.account_unblock(bob.id)["blocking"] is False
    assert a.blocks() == []
    assert a.account_relationships(bob.id)[0]["following"] is False


def test_mute_hides_posts_and_can_expire(node: RunningNode, alice: User, bob: User) -> None:
    a, b = client(node, alice), client(node, bob)
    a.account_follow(bob.id)
    muted = a.account_mute(bob.id, notifications=False)
    assert muted["muting"] is True
    assert muted["muting_notifications"] is False
    assert muted["following"] is True
    hidden = b.status_post("said while muted")
    assert str(hidden["id"]) not in home_ids(node, alice)
    listed = a.mutes()
    assert [str(x["id"]) for x in listed] == [bob.id]
    assert listed[0]["mute_expires_at"] is None

    timed = a.account_mute(bob.id, duration=3600)
    assert timed["muting_notifications"] is True
    assert a.mutes()[0]["mute_expires_at"] is not None

    assert a.account_unmute(bob.id)["muting"] is False
    assert a.mutes() == []
    heard = b.status_post("said after the mute")
    assert str(heard["id"]) in home_ids(node, alice)


def test_relationships_of_several_accounts(node: RunningNode, alice: User, bob: User) -> None:
    carol = node.create_user("carol")
    a = client(node, alice)
    a.account_follow(bob.id)
    a.account_block(carol.id)
    found = a.account_relationships([bob.id, carol.id, "12345"])
    by_id = {str(r["id"]): r for r in found}
    assert list(by_id) == [bob.id, carol.id]
    assert by_id[bob.id]["following"] is True
    assert by_id[carol.id]["blocking"] is True
    response = node.api(
        alice, "GET", "/api/v1/accounts/relationships", params={"id[]": [bob.id, "x1"]}
    )
    assert [r["id"] for r in response.json()] == [bob.id]


def test_followers_and_following_page_by_follow(node: RunningNode, alice: User) -> None:
    fans = [node.create_user("fan") for _ in range(5)]
    for fan in fans:
        client(node, fan).account_follow(alice.id)
    a = client(node, alice)
    page = a.account_followers(alice.id, limit=2)
    seen: list[str] = []
    while page:
        assert len(page) <= 2
        seen += [str(x["id"]) for x in page]
        page = a.fetch_next(page)
    assert seen == [fan.id for fan in reversed(fans)]  # newest follower first, none twice
    first = node.api(None, "GET", f"/api/v1/accounts/{alice.id}/followers", params={"limit": 2})
    assert first.headers["link"].index('rel="next"') < first.headers["link"].index('rel="prev"')
    following = client(node, fans[0]).account_following(fans[0].id)
    assert [str(x["id"]) for x in following] == [alice.id]
    assert counts(node, alice)[0] == 5

    removed = a.account_remove_from_followers(fans[0].id)
    assert removed["followed_by"] is False
    assert counts(node, alice)[0] == 4
    assert counts(node, fans[0])[1] == 0


def test_familiar_followers(node: RunningNode, alice: User, bob: User) -> None:
    carol = node.create_user("carol")
    client(node, alice).account_follow(bob.id)
    client(node, bob).account_follow(carol.id)
    familiar = client(node, alice).account_familiar_followers([carol.id])
    assert [str(x["id"]) for x in familiar[0]["accounts"]] == [bob.id]
    by_query = node.api(
        alice, "GET", "/api/v1/accounts/familiar_followers", params={"id[]": [carol.id, alice.id]}
    ).json()
    assert [entry["id"] for entry in by_query] == [carol.id, alice.id]
    assert by_query[1]["accounts"] == []


def test_cannot_follow_block_or_mute_oneself(node: RunningNode, alice: User) -> None:
    for action in ("follow", "block", "mute"):
        response = node.api(alice, "POST", f"/api/v1/accounts/{alice.id}/{action}")
        assert response.status_code in (403, 422), action
        assert "error" in response.json()
    assert counts(node, alice) == (0, 0)


def test_scopes_and_errors(node: RunningNode, alice: User, bob: User) -> None:
    reader = node.create_user("reader", scopes="read")
    forbidden = node.api(reader, "POST", f"/api/v1/accounts/{bob.id}/follow")
    assert forbidden.status_code == 403
    assert "error" in forbidden.json()
    with pytest.raises(MastodonAPIError):
        client(node, reader).account_block(bob.id)
    assert node.api(None, "POST", f"/api/v1/accounts/{bob.id}/follow").status_code == 401
    assert node.api(alice, "POST", "/api/v1/accounts/1/follow").status_code == 404
    assert node.api(alice, "POST", "/api/v1/accounts/bob/follow").status_code == 404
    assert node.api(alice, "POST", "/api/v1/follow_requests/1/authorize").status_code == 404
    follow_only = node.create_user("legacy", scopes="follow")
    assert node.api(follow_only, "POST", f"/api/v1/accounts/{bob.id}/mute").status_code == 200
    assert counts(node, bob) == (0, 0)


def test_empty_collections_answer_lists(node: RunningNode, alice: User) -> None:
    for path in ("/api/v1/endorsements", "/api/v1/featured_tags", "/api/v1/follow_requests"):
        response = node.api(alice, "GET", path)
        assert response.status_code == 200, path
        assert response.json() == []
    featured = node.api(None, "GET", f"/api/v1/accounts/{alice.id}/featured_tags")
    assert featured.json() == []


def test_counters_stay_exact_when_requests_race(node: RunningNode, alice: User, bob: User) -> None:
    carol = node.create_user("carol")
    followers = [alice, bob, carol] * 4

    def follow(user: User) -> int:
        target = alice if user is bob else bob
        return node.api(user, "POST", f"/api/v1/accounts/{target.id}/follow").status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(follow, followers)) == {200}
    assert counts(node, bob) == (2, 1)  # alice and carol follow bob; bob follows alice
    assert counts(node, alice) == (1, 1)

    def unfollow(user: User) -> int:
        return node.api(user, "POST", f"/api/v1/accounts/{bob.id}/unfollow").status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(unfollow, [alice, carol] * 4)) == {200}
    assert counts(node, bob) == (0, 1)
    assert counts(node, carol) == (0, 0)
