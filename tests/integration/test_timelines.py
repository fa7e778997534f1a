"""Timelines, lists, markers, preferences, bookmarks and favourites, through real clients."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest
from mastodon import Mastodon

from tests.kit import RunningNode, User


def post(node: RunningNode, user: User, text: str, **fields: str) -> dict[str, Any]:
    response = node.api(user, "POST", "/api/v1/statuses", data={"status": text, **fields})
    assert response.status_code == 200, response.text
    status: dict[str, Any] = response.json()
    return status


def follow(node: RunningNode, follower: User, target: User) -> None:
    response = node.api(follower, "POST", f"/api/v1/accounts/{target.id}/follow")
    assert response.status_code == 200, response.text
    assert response.json()["following"] is True


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [s["id"] for s in response.json()]


def home(node: RunningNode, user: User, **params: str) -> list[str]:
    return ids(node.api(user, "GET", "/api/v1/timelines/home", params=params))


def texts(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [s["content"] for s in response.json()]


def word() -> str:
    return "w" + secrets.token_hex(4)


# --- home ----------------------------------------------------------------------------------


def test_home_shows_own_and_followed_posts_but_not_a_strangers(
    node: RunningNode, alice: User, bob: User
) -> None:
    stranger = node.create_user("stranger")
    follow(node, alice, bob)
    mine = post(node, alice, "my own words")
    theirs = post(node, bob, "words from someone I follow")
    unrelated = post(node, stranger, "words from a stranger")
    timeline = home(node, alice)
    assert timeline[:2] == [theirs["id"], mine["id"]]
    assert unrelated["id"] not in timeline
    assert home(node, stranger)[0] == unrelated["id"]


def test_home_hides_muted_and_blocked_accounts(node: RunningNode, alice: User, bob: User) -> None:
    carol = node.create_user("carol")
    follow(node, alice, bob)
    follow(node, alice, carol)
    from_bob = post(node, bob, "bob speaks")
    from_carol = post(node, carol, "carol speaks")
    assert {from_bob["id"], from_carol["id"]} <= set(home(node, alice))
    assert node.api(alice, "POST", f"/api/v1/accounts/{bob.id}/mute").status_code == 200
    assert node.api(alice, "POST", f"/api/v1/accounts/{carol.id}/block").status_code == 200
    timeline = home(node, alice)
    assert from_bob["id"] not in timeline
    assert from_carol["id"] not in timeline


def test_home_hides_boosts_of_muted_accounts(node: RunningNode, alice: User, bob: User) -> None:
    carol = node.create_user("carol")
    follow(node, alice, bob)
    original = post(node, carol, "carol's thought, boosted by bob")
    boost = node.api(bob, "POST", f"/api/v1/statuses/{original['id']}/reblog").json()
    page = node.api(alice, "GET", "/api/v1/timelines/home").json()
    assert page[0]["id"] == boost["id"]
    assert page[0]["reblog"]["id"] == original["id"]
    assert node.api(alice, "POST", f"/api/v1/accounts/{carol.id}/mute").status_code == 200
    assert boost["id"] not in home(node, alice)


def test_direct_timeline_holds_the_conversations_one_is_part_of(
    node: RunningNode, alice: User, bob: User
) -> None:
    carol = node.create_user("carol")
    message = post(node, bob, f"@{alice.name} between us", visibility="direct")
    post(node, bob, "public chatter")
    for reader in (alice, bob):
        direct = node.api(reader, "GET", "/api/v1/timelines/direct")
        assert ids(direct) == [message["id"]]
    assert ids(node.api(carol, "GET", "/api/v1/timelines/direct")) == []


def test_home_drops_deleted_statuses(node: RunningNode, alice: User) -> None:
    kept = post(node, alice, "this stays")
    gone = post(node, alice, "this goes")
    assert node.api(alice, "DELETE", f"/api/v1/statuses/{gone['id']}").status_code == 200
    timeline = home(node, alice)
    assert gone["id"] not in timeline
    assert timeline[0] == kept["id"]


def test_home_needs_a_token_with_read_scope(node: RunningNode) -> None:
    assert node.api(None, "GET", "/api/v1/timelines/home").status_code == 401
    writer = node.create_user("writer", scopes="write")
    response = node.api(writer, "GET", "/api/v1/timelines/home")
    assert response.status_code == 403
    assert "error" in response.json()


@pytest.fixture(scope="module")
def poster(node: RunningNode) -> tuple[User, list[str]]:
    """A user with 45 statuses of their own, oldest first."""
    user = node.create_user("poster")
    return user, [post(node, user, f"post number {n}")["id"] for n in range(45)]


def walk(node: RunningNode, user: User, url: str, rel: str) -> list[list[str]]:
    pages = []
    while True:
        response = httpx.get(url, headers={"Authorization": f"Bearer {user.token}"}, timeout=30)
        page = ids(response)
        if not page:
            return pages
        pages.append(page)
        assert rel in response.links, response.headers.get("link")
        url = response.links[rel]["url"]


def test_home_pages_through_45_statuses_with_link_headers(
    node: RunningNode, poster: tuple[User, list[str]]
) -> None:
    user, posted = poster
    newest_first = list(reversed(posted))
    pages = walk(node, user, node.url + "/api/v1/timelines/home", "next")
    assert [len(p) for p in pages] == [20, 20, 5]
    seen = [i for page in pages for i in page]
    assert seen == newest_first

    first = node.api(user, "GET", "/api/v1/timelines/home")
    link = first.headers["link"]
    assert link.index('rel="next"') < link.index('rel="prev"')
    assert link.startswith(f"<{node.url}/api/v1/timelines/home?max_id={newest_first[19]}>")

    # From the oldest page back up with `prev`: every status once more, none twice.
    last_page_url = node.url + f"/api/v1/timelines/home?max_id={newest_first[39]}"
    back = walk(node, user, last_page_url, "prev")
    assert back[0] == newest_first[40:]
    assert [len(p) for p in back] == [5, 20, 20]
    assert sorted(i for page in back for i in page) == sorted(posted)


def test_home_honours_max_since_and_min_id(
    node: RunningNode, poster: tuple[User, list[str]]
) -> None:
    user, posted = poster
    assert home(node, user, max_id=posted[10], limit="3") == [posted[9], posted[8], posted[7]]
    # since_id: the newest statuses after the cursor; min_id: the ones right after it.
    assert home(node, user, since_id=posted[10], limit="5") == posted[44:39:-1]
    assert home(node, user, min_id=posted[10], limit="5") == posted[15:10:-1]
    assert home(node, user, max_id=posted[20], since_id=posted[17]) == [posted[19], posted[18]]
    assert len(home(node, user, limit="1000")) == 40
    assert home(node, user, min_id=posted[44]) == []


# --- public and hashtag --------------------------------------------------------------------


def test_public_timeline_shows_only_public_original_posts(
    node: RunningNode, alice: User, bob: User
) -> None:
    tag = word()
    shown = post(node, alice, f"for everyone #{tag}", visibility="public")
    hidden = [
        post(node, alice, f"quiet #{tag}", visibility="unlisted"),
        post(node, alice, f"followers #{tag}", visibility="private"),
        post(node, alice, f"@{bob.name} just you #{tag}", visibility="direct"),
    ]
    boost = node.api(bob, "POST", f"/api/v1/statuses/{shown['id']}/reblog")
    assert boost.status_code == 200
    since = {"since_id": str(int(shown["id"]) - 1), "limit": "40"}
    for viewer in (None, bob):
        public = ids(node.api(viewer, "GET", "/api/v1/timelines/public", params=since))
        assert public == [shown["id"]]
        local = ids(
            node.api(viewer, "GET", "/api/v1/timelines/public", params={**since, "local": "true"})
        )
        assert local == [shown["id"]]
        remote = node.api(
            viewer, "GET", "/api/v1/timelines/public", params={**since, "remote": "true"}
        )
        assert ids(remote) == []
    assert all(h["id"] not in public for h in hidden)
    both = node.api(
        None, "GET", "/api/v1/timelines/public", params={**since, "local": "1", "remote": "1"}
    )
    assert ids(both) == [shown["id"]]
    media_only = node.api(
        None, "GET", "/api/v1/timelines/public", params={**since, "only_media": "true"}
    )
    assert ids(media_only) == []


def test_local_only_posts_reach_signed_in_readers_only(
    node: RunningNode, alice: User, bob: User
) -> None:
    local = post(node, alice, "only for this node", visibility="local")
    since = {"since_id": str(int(local["id"]) - 1)}
    assert ids(node.api(bob, "GET", "/api/v1/timelines/public", params=since)) == [local["id"]]
    assert ids(node.api(None, "GET", "/api/v1/timelines/public", params=since)) == []
    remote = node.api(bob, "GET", "/api/v1/timelines/public", params={**since, "remote": "1"})
    assert ids(remote) == []


def test_hashtag_timeline_with_any_all_and_none(node: RunningNode, alice: User) -> None:
    one, two = word(), word()
    only_one = post(node, alice, f"first #{one}")
    both = post(node, alice, f"both #{one} and #{two.upper()}")
    only_two = post(node, alice, f"second #{two}")
    post(node, alice, f"private #{one}", visibility="private")

    def tagged(name: str, **params: Any) -> list[str]:
        return ids(node.api(None, "GET", f"/api/v1/timelines/tag/{name}", params=params))

    assert tagged(one) == [both["id"], only_one["id"]]
    assert tagged(one.upper()) == [both["id"], only_one["id"]]
    assert tagged(one, **{"any[]": two}) == [only_two["id"], both["id"], only_one["id"]]
    assert tagged(one, **{"all[]": two}) == [both["id"]]
    assert tagged(one, **{"none[]": two}) == [only_one["id"]]
    assert tagged(one, limit="1") == [both["id"]]
    assert tagged(word()) == []


# --- lists ---------------------------------------------------------------------------------


def test_list_lifecycle_and_its_timeline(node: RunningNode, alice: User, bob: User) -> None:
    carol = node.create_user("carol")
    follow(node, alice, bob)
    created = node.api(alice, "POST", "/api/v1/lists", data={"title": "Colleagues"})
    assert created.status_code == 200, created.text
    lst = created.json()
    assert lst == {
        "id": lst["id"],
        "title": "Colleagues",
        "replies_policy": "list",
        "exclusive": False,
    }
    path = f"/api/v1/lists/{lst['id']}"

    not_followed = node.api(alice, "POST", path + "/accounts", data={"account_ids[]": carol.id})
    assert not_followed.status_code == 422
    assert node.api(alice, "GET", path + "/accounts").json() == []
    added = node.api(alice, "POST", path + "/accounts", json={"account_ids": [bob.id]})
    assert added.status_code == 200
    assert added.json() == {}
    assert [a["id"] for a in node.api(alice, "GET", path + "/accounts").json()] == [bob.id]
    in_lists = node.api(alice, "GET", f"/api/v1/accounts/{bob.id}/lists").json()
    assert [x["id"] for x in in_lists] == [lst["id"]]

    from_bob = post(node, bob, "for my list readers")
    post(node, carol, "carol is not on the list")
    timeline = ids(node.api(alice, "GET", f"/api/v1/timelines/list/{lst['id']}"))
    assert timeline == [from_bob["id"]]

    # Someone else's list is as unknown as a missing one.
    assert node.api(bob, "GET", path).status_code == 404
    assert node.api(bob, "GET", f"/api/v1/timelines/list/{lst['id']}").status_code == 404
    assert node.api(bob, "DELETE", path).status_code == 404

    renamed = node.api(
        alice, "PUT", path, data={"title": "Team", "replies_policy": "none", "exclusive": "1"}
    )
    assert renamed.json() == {
        "id": lst["id"],
        "title": "Team",
        "replies_policy": "none",
        "exclusive": True,
    }
    assert node.api(alice, "PUT", path, data={"title": " "}).status_code == 422
    assert node.api(alice, "PUT", path, data={"replies_policy": "all"}).status_code == 422
    assert node.api(alice, "GET", path).json()["title"] == "Team"
    assert [x["id"] for x in node.api(alice, "GET", "/api/v1/lists").json()] == [lst["id"]]

    removed = node.api(alice, "DELETE", path + "/accounts", data={"account_ids[]": bob.id})
    assert removed.status_code == 200
    assert node.api(alice, "GET", path + "/accounts").json() == []
    assert node.api(alice, "DELETE", path).json() == {}
    assert node.api(alice, "GET", path).status_code == 404
    assert node.api(alice, "GET", "/api/v1/lists").json() == []


def test_unfollowing_takes_the_account_off_the_followers_lists(node: RunningNode) -> None:
    reader, writer = node.create_user("listreader"), node.create_user("listwriter")
    follow(node, reader, writer)
    lst = node.api(reader, "POST", "/api/v1/lists", data={"title": "Desk"}).json()
    path = f"/api/v1/lists/{lst['id']}"
    node.api(reader, "POST", path + "/accounts", data={"account_ids[]": writer.id})
    assert [a["id"] for a in node.api(reader, "GET", path + "/accounts").json()] == [writer.id]

    unfollowed = node.api(reader, "POST", f"/api/v1/accounts/{writer.id}/unfollow")
    assert unfollowed.status_code == 200
    assert node.api(reader, "GET", path + "/accounts").json() == []
    assert node.api(reader, "GET", f"/api/v1/accounts/{writer.id}/lists").json() == []
    post(node, writer, "after the unfollow")
    assert ids(node.api(reader, "GET", f"/api/v1/timelines/list/{lst['id']}")) == []
    # Following again does not put them back: lists are chosen, not restored.
    follow(node, reader, writer)
    assert node.api(reader, "GET", path + "/accounts").json() == []


def test_list_rejects_bad_input_and_changes_nothing(node: RunningNode, alice: User) -> None:
    assert node.api(alice, "POST", "/api/v1/lists", data={}).status_code == 422
    too_long = node.api(alice, "POST", "/api/v1/lists", data={"title": "x" * 300})
    assert too_long.status_code == 422
    bad_policy = node.api(
        alice, "POST", "/api/v1/lists", data={"title": "a", "replies_policy": "x"}
    )
    assert bad_policy.status_code == 422
    assert node.api(alice, "GET", "/api/v1/lists").json() == []
    assert node.api(alice, "GET", "/api/v1/lists/123").status_code == 404
    assert node.api(alice, "GET", "/api/v1/lists/abc").status_code == 404
    lst = node.api(alice, "POST", "/api/v1/lists", data={"title": "a"}).json()
    unknown = node.api(
        alice, "POST", f"/api/v1/lists/{lst['id']}/accounts", data={"account_ids[]": "12345"}
    )
    assert unknown.status_code == 404
    reader = node.create_user("reader", scopes="read")
    assert node.api(reader, "POST", "/api/v1/lists", data={"title": "a"}).status_code == 403
    assert node.api(reader, "GET", "/api/v1/lists").status_code == 200


def test_list_replies_policy_and_exclusive_lists(node: RunningNode, alice: User, bob: User) -> None:
    carol = node.create_user("carol")
    follow(node, alice, bob)
    follow(node, alice, carol)
    lst = node.api(
        alice, "POST", "/api/v1/lists", data={"title": "Just Bob", "exclusive": "true"}
    ).json()
    node.api(alice, "POST", f"/api/v1/lists/{lst['id']}/accounts", data={"account_ids[]": bob.id})
    from_carol = post(node, carol, "carol starts a thread")
    plain = post(node, bob, "bob on his own")
    reply = post(node, bob, f"@{carol.name} bob answers", in_reply_to_id=from_carol["id"])

    def listed() -> list[str]:
        return ids(node.api(alice, "GET", f"/api/v1/timelines/list/{lst['id']}"))

    assert listed() == [plain["id"]]  # "list": replies only to list members
    node.api(alice, "PUT", f"/api/v1/lists/{lst['id']}", data={"replies_policy": "followed"})
    assert listed() == [reply["id"], plain["id"]]
    node.api(alice, "PUT", f"/api/v1/lists/{lst['id']}", data={"replies_policy": "none"})
    assert listed() == [plain["id"]]
    # An exclusive list takes its members out of the home timeline.
    timeline = home(node, alice)
    assert from_carol["id"] in timeline
    assert plain["id"] not in timeline


# --- Mastodon.py ---------------------------------------------------------------------------


def test_mastodon_py_reads_timelines_markers_preferences_and_lists(
    node: RunningNode, alice: User, bob: User
) -> None:
    me = Mastodon(access_token=alice.token, api_base_url=node.url)
    them = Mastodon(access_token=bob.token, api_base_url=node.url)
    me.account_follow(bob.id)
    tag = word()
    mine = me.status_post(f"hello from Mastodon.py #{tag}")
    theirs = them.status_post("bob via Mastodon.py")

    home_page = me.timeline_home(limit=2)
    assert [s.id for s in home_page] == [theirs.id, mine.id]
    older = me.fetch_next(home_page)
    assert older is None or all(s.id not in (theirs.id, mine.id) for s in older)
    assert mine.id in [s.id for s in me.timeline_public(limit=40)]
    assert [s.id for s in me.timeline_hashtag(tag)] == [mine.id]

    me.markers_set(["home", "notifications"], [theirs.id, "1"])
    markers = me.markers_get(["home", "notifications"])
    assert str(markers["home"].last_read_id) == str(theirs.id)
    assert str(markers["notifications"].last_read_id) == "1"

    assert me.preferences()["posting:default:visibility"] == "public"

    me.status_bookmark(theirs.id)
    me.status_favourite(theirs.id)
    assert [s.id for s in me.bookmarks()] == [theirs.id]
    assert [s.id for s in me.favourites()] == [theirs.id]

    lst = me.list_create("From Mastodon.py")
    me.list_accounts_add(lst.id, [bob.id])
    assert [a.id for a in me.list_accounts(lst.id)] == [bob.id]
    assert [x.id for x in me.lists()] == [lst.id]
    assert [s.id for s in me.timeline_list(lst.id)] == [theirs.id]
    me.list_update(lst.id, "Renamed", replies_policy="followed")
    assert me.list(lst.id).title == "Renamed"
    me.list_accounts_delete(lst.id, [bob.id])
    me.list_delete(lst.id)
    assert me.lists() == []
