"""Statuses through real clients: posting, reading, threads, edits, deletes and interactions."""

from __future__ import annotations

import asyncio
import io
import secrets
from typing import Any

import httpx
import pytest
from mastodon import Mastodon
from mastodon.errors import MastodonAPIError, MastodonNotFoundError
from PIL import Image

from tests.kit import RunningNode, User


def client(node: RunningNode, user: User) -> Mastodon:
    return Mastodon(access_token=user.token, api_base_url=node.url)


def post(node: RunningNode, user: User, text: str, **extra: Any) -> dict[str, Any]:
    response = node.api(user, "POST", "/api/v1/statuses", data={"status": text, **extra})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def notifications(node: RunningNode, user: User, **params: Any) -> list[dict[str, Any]]:
    response = node.api(user, "GET", "/api/v1/notifications", params=params)
    assert response.status_code == 200, response.text
    body: list[dict[str, Any]] = response.json()
    return body


def statuses_count(node: RunningNode, user: User) -> int:
    me = node.api(user, "GET", "/api/v1/accounts/verify_credentials").json()
    return int(me["statuses_count"])


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (10, 120, 200)).save(buffer, "PNG")
    return buffer.getvalue()


def test_a_3000_character_post_reads_back_intact(node: RunningNode, alice: User) -> None:
    m = client(node, alice)
    words = [f"word{i}" for i in range(1000)]
    text = " ".join(words)[:3000]
    assert len(text) == 3000
    posted = m.status_post(text)
    fetched = m.status(posted["id"])
    assert text in fetched["content"]
    assert fetched["content"].startswith("<p>")
    assert m.status_source(posted["id"])["text"] == text
    assert fetched["visibility"] == "public"
    assert fetched["account"]["username"] == alice.name
    assert fetched["application"]["name"]
    assert statuses_count(node, alice) == 1


def test_reply_and_context_on_both_sides(node: RunningNode, alice: User, bob: User) -> None:
    a, b = client(node, alice), client(node, bob)
    root = a.status_post("Where do we meet for lunch?")
    answer = b.status_reply(root, "At the canteen, 12:30")
    thanks = a.status_post("Thanks, see you there", in_reply_to_id=answer["id"])
    aside = b.status_post("Starting a thread of my own")

    assert str(answer["in_reply_to_id"]) == str(root["id"])
    assert str(answer["in_reply_to_account_id"]) == alice.id
    assert a.status(root["id"])["replies_count"] == 1

    seen_by_bob = b.status_context(root["id"])
    assert seen_by_bob["ancestors"] == []
    assert [s["id"] for s in seen_by_bob["descendants"]] == [answer["id"], thanks["id"]]

    seen_by_alice = a.status_context(thanks["id"])
    assert [s["id"] for s in seen_by_alice["ancestors"]] == [root["id"], answer["id"]]
    assert seen_by_alice["descendants"] == []
    middle = node.api(None, "GET", f"/api/v1/statuses/{answer['id']}/context").json()
    assert [s["id"] for s in middle["ancestors"]] == [str(root["id"])]
    assert [s["id"] for s in middle["descendants"]] == [str(thanks["id"])]
    assert a.status_context(aside["id"]) == {"ancestors": [], "descendants": []}


def test_thread_order_is_depth_first(node: RunningNode, alice: User, bob: User) -> None:
    root = post(node, alice, "root")
    first = post(node, bob, "first", in_reply_to_id=root["id"])
    second = post(node, alice, "second", in_reply_to_id=root["id"])
    under_first = post(node, alice, "under first", in_reply_to_id=first["id"])
    context = node.api(alice, "GET", f"/api/v1/statuses/{root['id']}/context").json()
    order = [s["id"] for s in context["descendants"]]
    assert order == [first["id"], under_first["id"], second["id"]]


def test_mentions_link_and_notify(node: RunningNode, alice: User, bob: User) -> None:
    host = node.url.split("://")[1]
    status = client(node, alice).status_post(
        f"Hello @{bob.name} and @{bob.name}@{host}, not @nobody_here nor @x@elsewhere.example"
    )
    assert [str(m["id"]) for m in status["mentions"]] == [bob.id]
    assert 'class="u-url mention"' in status["content"]
    assert f"@<span>{bob.name}</span>" in status["content"]
    assert "@nobody_here" in status["content"]
    assert "@x@elsewhere.example" in status["content"]

    mentions = client(node, bob).notifications(types=["mention"])
    assert [n["status"]["id"] for n in mentions] == [status["id"]]
    assert mentions[0]["account"]["username"] == alice.name
    assert notifications(node, alice) == []  # nobody mentioned alice


def test_hashtags_and_links_render(node: RunningNode, alice: User) -> None:
    status = post(node, alice, "Release day #Flurfunk #v2go see https://example.com/notes?a=1.")
    assert [t["name"] for t in status["tags"]] == ["flurfunk", "v2go"]
    assert 'class="mention hashtag" rel="tag">#<span>Flurfunk</span></a>' in status["content"]
    assert f'href="{node.url}/tags/flurfunk"' in status["content"]
    assert (
        '<a href="https://example.com/notes?a=1" rel="nofollow noopener noreferrer" '
        'target="_blank">https://example.com/notes?a=1</a>.'
    ) in status["content"]


def test_favourite_and_reblog_with_counts_and_notifications(
    node: RunningNode, alice: User, bob: User
) -> None:
    a, b = client(node, alice), client(node, bob)
    status = a.status_post("Boost me")

    favourited = b.status_favourite(status["id"])
    assert favourited["favourited"] is True
    assert favourited["favourites_count"] == 1
    assert b.status_favourite(status["id"])["favourites_count"] == 1  # idempotent
    boost = b.status_reblog(status["id"])
    assert boost["reblog"]["id"] == status["id"]
    assert boost["reblog"]["reblogs_count"] == 1
    assert boost["reblog"]["reblogged"] is True
    assert b.status_reblog(status["id"])["id"] == boost["id"]  # a second boost is the first

    seen_by_alice = a.status(status["id"])
    assert (seen_by_alice["favourites_count"], seen_by_alice["reblogs_count"]) == (1, 1)
    assert [acc["username"] for acc in a.status_favourited_by(status["id"])] == [bob.name]
    assert [acc["username"] for acc in a.status_reblogged_by(status["id"])] == [bob.name]
    kinds = sorted(n["type"] for n in a.notifications())
    assert kinds == ["favourite", "reblog"]
    assert all(n["status"]["id"] == status["id"] for n in a.notifications())

    assert b.status_unfavourite(status["id"])["favourites_count"] == 0
    unboosted = b.status_unreblog(status["id"])
    assert (unboosted["reblogs_count"], unboosted["reblogged"]) == (0, False)
    assert b.status_unreblog(status["id"])["reblogs_count"] == 0  # idempotent
    assert a.notifications() == []
    with pytest.raises(MastodonNotFoundError):
        b.status(boost["id"])


def test_private_and_direct_posts_cannot_be_boosted(
    node: RunningNode, alice: User, bob: User
) -> None:
    direct = post(node, alice, f"@{bob.name} between us", visibility="direct")
    response = node.api(bob, "POST", f"/api/v1/statuses/{direct['id']}/reblog")
    assert response.status_code == 403
    assert "error" in response.json()
    own_private = post(node, alice, "followers only", visibility="private")
    boost = node.api(alice, "POST", f"/api/v1/statuses/{own_private['id']}/reblog")
    assert boost.status_code == 200
    assert boost.json()["visibility"] == "private"


def test_edits_keep_history_and_notify_boosters(node: RunningNode, alice: User, bob: User) -> None:
    a, b = client(node, alice), client(node, bob)
    carol = node.create_user("carol")
    status = a.status_post("Meeting at 10")
    b.status_reblog(status["id"])
    client(node, carol).status_favourite(status["id"])

    edited = a.status_update(status["id"], "Meeting at 11", spoiler_text="schedule")
    assert "Meeting at 11" in edited["content"]
    assert edited["edited_at"] is not None
    assert edited["spoiler_text"] == "schedule"
    assert edited["sensitive"] is True
    a.status_update(status["id"], "Meeting at 11:30 #moved")

    history = a.status_history(status["id"])
    assert [h["spoiler_text"] for h in history] == ["", "schedule", "schedule"]  # kept
    assert ["Meeting at 10" in history[0]["content"], "11:30" in history[2]["content"]] == [
        True,
        True,
    ]
    assert history[0]["created_at"] <= history[1]["created_at"] <= history[2]["created_at"]
    assert a.status_source(status["id"])["text"] == "Meeting at 11:30 #moved"
    assert [t["name"] for t in a.status(status["id"])["tags"]] == ["moved"]

    updates = b.notifications(types=["update"])
    assert [n["status"]["id"] for n in updates] == [status["id"]]  # once, however many edits
    assert client(node, carol).notifications(types=["update"]) == []

    never_edited = a.status_post("Untouched")
    assert len(a.status_history(never_edited["id"])) == 1
    response = node.api(bob, "PUT", f"/api/v1/statuses/{status['id']}", data={"status": "x"})
    assert response.status_code == 403


def test_delete_returns_the_source_and_cleans_up(node: RunningNode, alice: User, bob: User) -> None:
    a, b = client(node, alice), client(node, bob)
    status = a.status_post("Oops, typo here", spoiler_text="cw")
    b.status_favourite(status["id"])
    b.status_reblog(status["id"])
    assert statuses_count(node, alice) == 1
    assert statuses_count(node, bob) == 1

    response = node.api(bob, "DELETE", f"/api/v1/statuses/{status['id']}")
    assert response.status_code == 404  # only one's own

    deleted = a.status_delete(status["id"])
    assert deleted["text"] == "Oops, typo here"
    assert deleted["spoiler_text"] == "cw"
    with pytest.raises(MastodonNotFoundError):
        a.status(status["id"])
    assert a.notifications() == []
    assert statuses_count(node, alice) == 0
    assert statuses_count(node, bob) == 0
    redraft = a.status_post(deleted["text"])
    assert redraft["id"] != status["id"]


def test_delete_of_a_reply_updates_the_parent(node: RunningNode, alice: User, bob: User) -> None:
    root = post(node, alice, "root")
    reply = post(node, bob, "reply", in_reply_to_id=root["id"])
    assert node.api(alice, "GET", f"/api/v1/statuses/{root['id']}").json()["replies_count"] == 1
    assert node.api(bob, "DELETE", f"/api/v1/statuses/{reply['id']}").status_code == 200
    assert node.api(alice, "GET", f"/api/v1/statuses/{root['id']}").json()["replies_count"] == 0


def test_private_post_is_invisible_to_non_followers(
    node: RunningNode, alice: User, bob: User
) -> None:
    status = post(node, alice, "For my followers", visibility="private")
    assert node.api(bob, "GET", f"/api/v1/statuses/{status['id']}").status_code == 404
    assert node.api(None, "GET", f"/api/v1/statuses/{status['id']}").status_code == 404
    assert node.api(bob, "POST", f"/api/v1/statuses/{status['id']}/favourite").status_code == 404
    reply = node.api(
        bob, "POST", "/api/v1/statuses", data={"status": "hi", "in_reply_to_id": status["id"]}
    )
    assert reply.status_code == 404
    follower = node.create_user("follower")
    followed = node.api(follower, "POST", f"/api/v1/accounts/{alice.id}/follow")
    assert followed.status_code == 200, followed.text
    seen = node.api(follower, "GET", f"/api/v1/statuses/{status['id']}")
    assert seen.status_code == 200
    assert seen.json()["visibility"] == "private"


def test_direct_post_is_visible_only_to_the_mentioned(
    node: RunningNode, alice: User, bob: User
) -> None:
    carol = node.create_user("carol")
    status = post(node, alice, f"@{bob.name} the numbers are in", visibility="direct")
    assert node.api(bob, "GET", f"/api/v1/statuses/{status['id']}").status_code == 200
    assert node.api(carol, "GET", f"/api/v1/statuses/{status['id']}").status_code == 404
    assert node.api(None, "GET", f"/api/v1/statuses/{status['id']}").status_code == 404
    assert [n["type"] for n in notifications(node, bob)] == ["mention"]
    assert statuses_count(node, alice) == 0  # as on Mastodon, direct messages are not counted
    reply = post(node, bob, f"@{alice.name} thanks", in_reply_to_id=status["id"])
    assert reply["visibility"] == "direct"  # a reply never widens the audience by default


def test_idempotency_key_returns_the_first_status(
    node: RunningNode, alice: User, bob: User
) -> None:
    key = secrets.token_hex(8)
    headers = {"Authorization": f"Bearer {alice.token}", "Idempotency-Key": key}
    url = node.url + "/api/v1/statuses"
    first = httpx.post(url, data={"status": "once"}, headers=headers, timeout=30)
    again = httpx.post(url, data={"status": "once"}, headers=headers, timeout=30)
    assert first.status_code == again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    assert statuses_count(node, alice) == 1

    m = client(node, alice)
    one = m.status_post("via Mastodon.py", idempotency_key="mp-" + key)
    two = m.status_post("via Mastodon.py", idempotency_key="mp-" + key)
    assert one["id"] == two["id"]
    other = client(node, bob).status_post("via Mastodon.py", idempotency_key="mp-" + key)
    assert other["id"] != one["id"]  # keys are per account
    assert statuses_count(node, alice) == 2


def test_racing_requests_with_one_key_make_one_status(node: RunningNode, alice: User) -> None:
    headers = {"Authorization": f"Bearer {alice.token}", "Idempotency-Key": secrets.token_hex(8)}

    async def race() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=30) as http:
            return await asyncio.gather(
                *(
                    http.post(
                        node.url + "/api/v1/statuses", data={"status": "#once"}, headers=headers
                    )
                    for _ in range(6)
                )
            )

    answers = asyncio.run(race())
    assert [r.status_code for r in answers] == [200] * 6
    assert len({r.json()["id"] for r in answers}) == 1
    assert statuses_count(node, alice) == 1


def test_error_shapes(node: RunningNode, alice: User) -> None:
    def create(user: User | None, **data: Any) -> tuple[int, dict[str, Any]]:
        response = node.api(user, "POST", "/api/v1/statuses", data=data)
        return response.status_code, response.json()

    assert create(alice) == (422, {"error": "Validation failed: Text can't be blank"})
    status, body = create(alice, status="x" * 5001)
    assert status == 422
    assert "5000" in body["error"]
    assert create(alice, status="y" * 5000)[0] == 200
    assert create(alice, status="hi", visibility="everyone")[0] == 422
    assert create(alice, status="hi", in_reply_to_id="123456789")[0] == 404
    assert create(alice, status="hi", in_reply_to_id="abc")[0] == 404
    assert create(alice, status="later", scheduled_at="next tuesday")[0] == 422
    assert create(alice, status="hi", content_type="text/bbcode")[0] == 422
    poll = node.api(
        alice,
        "POST",
        "/api/v1/statuses",
        json={"status": "vote", "poll": {"options": ["only one"], "expires_in": 600}},
    )
    assert poll.status_code == 422
    assert "2 to 4 options" in poll.json()["error"]
    assert create(None, status="hi")[0] == 401
    reader = node.create_user("reader", scopes="read")
    status, body = create(reader, status="hi")
    assert status == 403
    assert "error" in body
    assert statuses_count(node, alice) == 1  # only the 5000-character post was created

    not_found = node.api(alice, "GET", "/api/v1/statuses/not-a-number")
    assert (not_found.status_code, not_found.json()) == (404, {"error": "Record not found"})
    assert node.api(alice, "GET", "/api/v1/statuses/12345").status_code == 404
    with pytest.raises(MastodonAPIError) as raised:
        client(node, reader).status_post("read-only")
    assert raised.value.args[1] == 403


def test_markdown_is_rendered_and_sanitised(node: RunningNode, alice: User, bob: User) -> None:
    text = (
        f"**Bold** and _italic_ for @{bob.name}, `@{bob.name} in code`\n\n"
        "- [docs](https://example.com/docs)\n- [bad](javascript:alert(1))\n\n"
        "<script>alert(1)</script> <img src=x onerror=alert(1)>"
    )
    status = client(node, alice).status_post(text, content_type="text/markdown")
    content = status["content"]
    assert "<strong>Bold</strong>" in content
    assert "<em>italic</em>" in content
    assert f"<code>@{bob.name} in code</code>" in content
    assert '<a href="https://example.com/docs" rel="nofollow noopener noreferrer"' in content
    assert "javascript:" not in content.replace("[bad](javascript:alert(1))", "")
    assert "<script" not in content
    assert "<img" not in content
    assert "&lt;script&gt;" in content
    assert [str(m["id"]) for m in status["mentions"]] == [bob.id]
    assert client(node, alice).status_source(status["id"])["text"] == text


def test_html_in_plain_text_is_escaped(node: RunningNode, alice: User) -> None:
    status = post(node, alice, '<script>alert("x")</script>\n<b onmouseover="x()">hi</b> & co')
    assert "<script" not in status["content"]
    assert "&lt;script&gt;" in status["content"]
    assert "<b " not in status["content"]
    assert "<br>" in status["content"]
    assert "&amp; co" in status["content"]


def test_bookmarks_and_pins(node: RunningNode, alice: User, bob: User) -> None:
    a, b = client(node, alice), client(node, bob)
    theirs = b.status_post("Bookmark-worthy")
    assert a.status_bookmark(theirs["id"])["bookmarked"] is True
    assert a.status_bookmark(theirs["id"])["bookmarked"] is True
    assert a.status_unbookmark(theirs["id"])["bookmarked"] is False

    mine = [a.status_post(f"pin {i}") for i in range(6)]
    for status in mine[:5]:
        assert a.status_pin(status["id"])["pinned"] is True
    assert a.status_pin(mine[0]["id"])["pinned"] is True  # idempotent, not a sixth pin
    too_many = node.api(alice, "POST", f"/api/v1/statuses/{mine[5]['id']}/pin")
    assert too_many.status_code == 422
    assert node.api(alice, "POST", f"/api/v1/statuses/{theirs['id']}/pin").status_code == 422
    assert a.status_unpin(mine[0]["id"])["pinned"] is False
    assert a.status_pin(mine[5]["id"])["pinned"] is True


def test_several_statuses_at_once(node: RunningNode, alice: User, bob: User) -> None:
    public = post(node, alice, "one")
    private = post(node, alice, "two", visibility="private")
    response = node.api(
        bob,
        "GET",
        "/api/v1/statuses",
        params=[("id[]", public["id"]), ("id[]", private["id"]), ("id[]", "999")],
    )
    assert response.status_code == 200
    assert [s["id"] for s in response.json()] == [public["id"]]
    mine = client(node, alice).statuses([private["id"], public["id"]])
    assert [str(s["id"]) for s in mine] == [private["id"], public["id"]]


def test_media_attachments(node: RunningNode, alice: User, bob: User) -> None:
    a = client(node, alice)
    media = a.media_post(io.BytesIO(png()), mime_type="image/png", description="a blue box")
    status = a.status_post("", media_ids=[media])
    assert [m["id"] for m in status["media_attachments"]] == [media["id"]]
    assert status["media_attachments"][0]["description"] == "a blue box"
    again = node.api(
        alice, "POST", "/api/v1/statuses", data={"status": "reuse", "media_ids[]": str(media["id"])}
    )
    assert again.status_code == 422  # already attached
    theirs = client(node, bob).media_post(io.BytesIO(png()), mime_type="image/png")
    stolen = node.api(
        alice,
        "POST",
        "/api/v1/statuses",
        data={"status": "mine now", "media_ids[]": str(theirs["id"])},
    )
    assert stolen.status_code == 422
    deleted = a.status_delete(status["id"])
    assert [m["id"] for m in deleted["media_attachments"]] == [media["id"]]
    redraft = a.status_post("redrafted", media_ids=[media])
    assert [m["id"] for m in redraft["media_attachments"]] == [media["id"]]


def test_values_no_calendar_or_id_can_hold_are_4xx(node: RunningNode, alice: User) -> None:
    before = "".join(node.output).count("Traceback")
    for at in (
        "9999-12-31T23:59:59Z",
        "9999-12-31T23:59:59-14:00",
        "0001-01-01T00:00:00+14:00",
        "2026-13-45T10:00:00Z",
        "2026-06-01T10:00:00",  # no zone: whose ten o'clock?
    ):
        response = node.api(
            alice, "POST", "/api/v1/statuses", data={"status": "later", "scheduled_at": at}
        )
        assert response.status_code == 422, (at, response.text)
        assert set(response.json()) == {"error"}
    scheduled = node.api(alice, "GET", "/api/v1/scheduled_statuses")
    assert scheduled.json() == []

    # Digits that are not ASCII digits ("²", "٣") name no record and page from the start.
    assert node.api(alice, "GET", "/api/v1/statuses/%C2%B2").status_code == 404
    assert node.api(alice, "GET", "/api/v1/timelines/home?max_id=%C2%B2").status_code == 200
    media = node.api(alice, "POST", "/api/v1/statuses", data={"status": "x", "media_ids[]": "²"})
    assert media.status_code == 422
    marker = node.api(alice, "POST", "/api/v1/markers", data={"home[last_read_id]": "٣²"})
    assert marker.status_code == 422
    assert "".join(node.output).count("Traceback") == before
    assert statuses_count(node, alice) == 0


def test_json_bodies_nested_beyond_the_limit_are_400(node: RunningNode, alice: User) -> None:
    deep = b'{"status": "deep", "poll": ' + b"[" * 300 + b"]" * 300 + b"}"
    response = httpx.post(
        node.url + "/api/v1/statuses",
        content=deep,
        headers={"authorization": f"Bearer {alice.token}", "content-type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 400, response.text
    assert "deeper" in response.json()["error"]
    assert statuses_count(node, alice) == 0


def test_a_link_no_url_parser_can_read_stays_text(node: RunningNode, alice: User) -> None:
    before = "".join(node.output).count("Traceback")
    posted = post(node, alice, "see http://[::1 and http://h:99999/x, then https://example.com")
    assert posted["content"].count("<a ") == 1
    assert 'href="https://example.com"' in posted["content"]
    assert "http://[::1" in posted["content"]
    assert "".join(node.output).count("Traceback") == before
