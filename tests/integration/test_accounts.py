"""Accounts through real clients: one's own profile, looking accounts up, their statuses."""

from __future__ import annotations

import io

import httpx
import pytest
from mastodon import Mastodon
from mastodon.errors import MastodonAPIError, MastodonNotFoundError
from PIL import Image

from tests.kit import RunningNode, User


def client(node: RunningNode, user: User) -> Mastodon:
    return Mastodon(access_token=user.token, api_base_url=node.url)


def png(width: int, height: int, colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "PNG")
    return buffer.getvalue()


def post(node: RunningNode, user: User, text: str, **extra: object) -> dict[str, object]:
    response = node.api(user, "POST", "/api/v1/statuses", data={"status": text, **extra})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_verify_credentials_has_what_tusky_needs(node: RunningNode, alice: User) -> None:
    me = client(node, alice).me()
    for key in ("id", "username", "acct", "url", "note", "avatar", "header", "created_at"):
        assert me[key] is not None, key
    assert str(me["id"]) == alice.id
    assert me["username"] == me["acct"] == alice.name
    assert me["source"]["privacy"] == "public"
    assert me["source"]["note"] == ""
    assert "permissions" in me["role"]
    avatar = httpx.get(me["avatar"], timeout=10)
    assert avatar.status_code == 200
    assert avatar.headers["content-type"].startswith("image/")


def test_verify_credentials_needs_a_token_with_a_fitting_scope(node: RunningNode) -> None:
    anonymous = node.api(None, "GET", "/api/v1/accounts/verify_credentials")
    assert anonymous.status_code == 401
    assert "error" in anonymous.json()
    writer = node.create_user("writer", scopes="write")
    assert node.api(writer, "GET", "/api/v1/accounts/verify_credentials").status_code == 403
    profile_only = node.create_user("profile", scopes="profile")
    assert node.api(profile_only, "GET", "/api/v1/accounts/verify_credentials").status_code == 200


def test_update_credentials_with_fields_and_a_png_avatar(node: RunningNode, alice: User) -> None:
    m = client(node, alice)
    image = png(640, 480)
    updated = m.account_update_credentials(
        display_name="Alice Adler",
        note="Payroll & <pensions>.\n\nDocs: https://wiki.corp.example/payroll #hr",
        fields=[("Team", "Payroll"), ("Wiki", "https://wiki.corp.example/alice")],
        avatar=image,
        avatar_mime_type="image/png",
        default_privacy="unlisted",
        default_sensitive=True,
        default_language="de",
    )
    assert updated["display_name"] == "Alice Adler"
    assert updated["note"].startswith("<p>Payroll &amp; &lt;pensions&gt;.</p><p>")
    assert 'href="https://wiki.corp.example/payroll"' in updated["note"]
    assert "/tags/hr" in updated["note"]
    assert [f["name"] for f in updated["fields"]] == ["Team", "Wiki"]
    assert 'href="https://wiki.corp.example/alice"' in updated["fields"][1]["value"]
    me = m.me()
    assert me["source"]["note"].startswith("Payroll & <pensions>.")
    assert me["source"]["fields"][1]["value"] == "https://wiki.corp.example/alice"
    assert me["source"]["privacy"] == "unlisted"
    assert me["source"]["sensitive"] is True
    assert me["source"]["language"] == "de"

    served = httpx.get(me["avatar"], timeout=10)
    assert served.status_code == 200
    assert "/media/accounts/avatars/" in me["avatar"]
    with Image.open(io.BytesIO(served.content)) as shown:
        assert shown.format == "PNG"
        assert max(shown.size) <= 400  # shrunk to avatar size, proportions kept
        assert shown.size == (400, 300)

    preferences = m.preferences()
    assert preferences["posting:default:visibility"] == "unlisted"
    assert preferences["posting:default:sensitive"] is True
    assert preferences["posting:default:language"] == "de"


def test_profile_fields_as_json_list_and_object(node: RunningNode, alice: User) -> None:
    as_list = node.api(
        alice,
        "PATCH",
        "/api/v1/accounts/update_credentials",
        json={"fields_attributes": [{"name": "Desk", "value": "B-204"}], "locked": True},
    )
    assert as_list.status_code == 200, as_list.text
    assert as_list.json()["fields"][0]["value"] == "B-204"
    assert as_list.json()["locked"] is True
    as_object = node.api(
        alice,
        "PATCH",
        "/api/v1/accounts/update_credentials",
        json={
            "fields_attributes": {
                "0": {"name": "Floor", "value": "2"},
                "1": {"name": "", "value": ""},
            }
        },
    )
    assert as_object.status_code == 200
    assert [(f["name"], f["value"]) for f in as_object.json()["fields"]] == [("Floor", "2")]


@pytest.mark.parametrize(
    ("data", "files"),
    [
        ({"display_name": "x" * 31}, None),
        ({"note": "y" * 501}, None),
        ({f"fields_attributes[{i}][name]": f"n{i}" for i in range(5)}, None),
        ({"source[privacy]": "everyone"}, None),
        ({"locked": "perhaps"}, None),
        ({"display_name": "Changed"}, {"avatar": ("a.png", b"not an image", "image/png")}),
        (
            {"display_name": "Changed"},
            {"header": ("h.txt", b"\x89PNG\r\n\x1a\nbroken", "image/png")},
        ),
    ],
)
def test_bad_profile_updates_are_refused_and_change_nothing(
    node: RunningNode,
    bob: User,
    data: dict[str, str],
    files: dict[str, tuple[str, bytes, str]] | None,
) -> None:
    before = node.api(bob, "GET", "/api/v1/accounts/verify_credentials").json()
    response = node.api(bob, "PATCH", "/api/v1/accounts/update_credentials", data=data, files=files)
    assert response.status_code == 422, response.text
    assert response.json()["error"].startswith("Validation failed")
    after = node.api(bob, "GET", "/api/v1/accounts/verify_credentials").json()
    assert after == before


def test_too_large_avatar_is_refused(node: RunningNode, bob: User) -> None:
    huge = png(64, 64) + b"\0" * (8 * 1024 * 1024)
    response = node.api(
        bob,
        "PATCH",
        "/api/v1/accounts/update_credentials",
        files={"avatar": ("big.png", huge, "image/png")},
    )
    assert response.status_code == 422


def test_avatar_can_be_removed_again(node: RunningNode, bob: User) -> None:
    m = client(node, bob)
    with_avatar = m.account_update_credentials(avatar=png(50, 50), avatar_mime_type="image/png")
    assert "/media/" in with_avatar["avatar"]
    without = m.account_delete_avatar()
    assert "/media/" not in without["avatar"]
    assert httpx.get(with_avatar["avatar"], timeout=10).status_code == 404


def test_unlocking_lets_waiting_followers_in(node: RunningNode, alice: User) -> None:
    carol = node.create_user("carol", locked=True)
    client(node, alice).account_follow(carol.id)
    m = client(node, carol)
    assert [str(a["id"]) for a in m.follow_requests()] == [alice.id]
    m.account_update_credentials(locked=False)
    assert m.follow_requests() == []
    assert m.account_relationships(alice.id)[0]["followed_by"] is True


def test_account_by_id_and_many_accounts(node: RunningNode, alice: User, bob: User) -> None:
    shown = node.api(None, "GET", f"/api/v1/accounts/{alice.id}")
    assert shown.status_code == 200
    assert shown.json()["acct"] == alice.name
    assert "source" not in shown.json()
    many = client(node, bob).accounts([bob.id, alice.id, "1"])
    assert [a["username"] for a in many] == [bob.name, alice.name]


def test_unknown_and_malformed_ids_are_404(node: RunningNode, alice: User) -> None:
    for path in (
        "/api/v1/accounts/1",
        "/api/v1/accounts/abc",
        "/api/v1/accounts/99999999999999999999999",
        "/api/v1/accounts/1/statuses",
        "/api/v1/accounts/abc/followers",
    ):
        response = node.api(alice, "GET", path)
        assert response.status_code == 404, path
        assert response.json() == {"error": "Record not found"}
    with pytest.raises(MastodonNotFoundError):
        client(node, alice).account(12345)


def test_lookup_by_local_handle(node: RunningNode, alice: User) -> None:
    m = client(node, alice)
    domain = node.url.removeprefix("http://")
    assert str(m.account_lookup(alice.name)["id"]) == alice.id
    assert str(m.account_lookup(f"@{alice.name.upper()}@{domain}")["id"]) == alice.id
    for missing in ("nobody_here", f"{alice.name}@elsewhere.example", ""):
        response = node.api(alice, "GET", "/api/v1/accounts/lookup", params={"acct": missing})
        assert response.status_code == 404


def test_search_by_prefix_of_name_and_display_name(node: RunningNode, alice: User) -> None:
    zed = node.create_user("zed_search")
    client(node, zed).account_update_credentials(display_name="Quentin Zarathustra")
    m = client(node, alice)
    by_name = m.account_search(zed.name[:6])
    assert zed.name in [a["acct"] for a in by_name]
    by_display = m.account_search("zarath")
    assert [a["acct"] for a in by_display] == [zed.name]
    assert m.account_search("zed_search", following=True) == []
    m.account_follow(zed.id)
    assert [a["acct"] for a in m.account_search(zed.name, following=True)] == [zed.name]
    # `_` is a literal character here, not a LIKE wildcard.
    assert m.account_search("zed%") == []


def test_account_statuses_filters_and_visibility(node: RunningNode, alice: User) -> None:
    dora = node.create_user("dora")
    first = post(node, dora, "first thoughts")
    post(node, dora, "more on that", in_reply_to_id=str(first["id"]))
    post(node, alice, "alice asks")
    other = node.api(alice, "GET", f"/api/v1/accounts/{alice.id}/statuses").json()[0]
    reply_to_other = post(node, dora, "answering alice", in_reply_to_id=str(other["id"]))
    secret = post(node, dora, "followers only", visibility="private")
    upload = node.api(
        dora, "POST", "/api/v2/media", files={"file": ("p.png", png(32, 32), "image/png")}
    )
    assert upload.status_code in (200, 202), upload.text
    media_post = post(node, dora, "with a picture", **{"media_ids[]": upload.json()["id"]})

    m = client(node, alice)
    seen = [s["id"] for s in m.account_statuses(dora.id)]
    assert str(secret["id"]) not in [str(i) for i in seen]
    own = [str(s["id"]) for s in client(node, dora).account_statuses(dora.id)]
    assert str(secret["id"]) in own

    no_replies = [str(s["id"]) for s in m.account_statuses(dora.id, exclude_replies=True)]
    assert str(reply_to_other["id"]) not in no_replies
    assert str(first["id"]) in no_replies
    assert len(no_replies) == len(seen) - 1  # a thread of one's own stays

    anonymous = node.api(None, "GET", f"/api/v1/accounts/{dora.id}/statuses")
    assert anonymous.status_code == 200
    assert str(secret["id"]) not in [s["id"] for s in anonymous.json()]

    with_media = m.account_statuses(dora.id, only_media=True)
    assert [str(s["id"]) for s in with_media] == [str(media_post["id"])]


def test_account_statuses_pages_with_link_headers(node: RunningNode, alice: User) -> None:
    erin = node.create_user("erin")
    posted = [str(post(node, erin, f"note {i}")["id"]) for i in range(5)]
    first = node.api(alice, "GET", f"/api/v1/accounts/{erin.id}/statuses", params={"limit": 2})
    assert [s["id"] for s in first.json()] == posted[::-1][:2]
    assert 'rel="next"' in first.headers["link"]
    m = client(node, alice)
    page = m.account_statuses(erin.id, limit=2)
    collected = []
    while page:
        collected += [str(s["id"]) for s in page]
        page = m.fetch_next(page)
    assert collected == posted[::-1]


def test_remote_handles_are_not_resolved_yet(node: RunningNode, alice: User) -> None:
    with pytest.raises(MastodonAPIError):
        client(node, alice).account_lookup("someone@hr.corp.example")
