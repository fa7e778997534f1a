"""The web pages over plain HTTP: one address for browsers and other nodes, errors in the
shape the asker understands, safe headers, forms that need their CSRF token."""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Iterator

import httpx
from PIL import Image

from tests.fakenode import wait_for
from tests.kit import RunningNode, User

HTML = {"Accept": "text/html,application/xhtml+xml"}
AS = {"Accept": "application/activity+json"}


@contextlib.contextmanager
def signed_in(node: RunningNode, user: User) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=node.url, headers=HTML, timeout=30) as browser:
        token = csrf(browser.get("/auth/sign_in"))
        answer = browser.post(
            "/auth/sign_in",
            data={"csrf_token": token, "login": user.name, "password": user.password},
        )
        assert answer.status_code == 303
        yield browser


def csrf(page: httpx.Response) -> str:
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    return token.group(1)


def test_profile_and_status_addresses_answer_browsers_and_nodes(
    node: RunningNode, alice: User
) -> None:
    posted = node.api(alice, "POST", "/api/v1/statuses", data={"status": "Hello from the web"})
    status_id = posted.json()["id"]
    with signed_in(node, alice) as browser:
        profile = browser.get(f"/@{alice.name}")
        assert profile.status_code == 200
        assert profile.headers["content-type"].startswith("text/html")
        assert "Hello from the web" in profile.text
        page = browser.get(f"/@{alice.name}/{status_id}")
        assert page.status_code == 200
        assert page.text.count("<h1") == 1
    for path in (f"/@{alice.name}", f"/@{alice.name}/{status_id}"):
        unsigned = httpx.get(node.url + path, headers=AS)
        assert unsigned.status_code == 401
        assert unsigned.headers["content-type"].startswith("application/json")
    unknown = httpx.get(f"{node.url}/@nobody-here", headers=AS)
    assert unknown.status_code == 401  # authorized fetch first, as on /users/NAME


def test_unknown_paths_give_browsers_a_page_and_clients_json(node: RunningNode) -> None:
    page = httpx.get(node.url + "/no/such/page", headers=HTML)
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "<h1" in page.text
    api = httpx.get(node.url + "/no/such/page")
    assert api.status_code == 404
    assert api.json() == {"error": "Record not found"}
    under_api = httpx.get(node.url + "/api/v1/no-such-endpoint", headers=HTML)
    assert under_api.status_code == 404
    assert under_api.headers["content-type"].startswith("application/json")


def test_pages_forbid_inline_script_and_keep_the_cookie_from_scripts(
    node: RunningNode, alice: User
) -> None:
    with signed_in(node, alice) as browser:
        home = browser.get("/")
    policy = home.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "<script>" not in home.text
    assert not re.search(r"\son[a-z]+=", home.text)
    assert "Strict-Transport-Security" not in home.headers  # http: no HSTS
    sign_in = httpx.post(node.url + "/auth/sign_in", data={})
    cookie = sign_in.headers.get("set-cookie", "")
    assert "httponly" in cookie.lower()
    assert "samesite=lax" in cookie.lower()


def test_a_form_without_its_token_changes_nothing(node: RunningNode, alice: User) -> None:
    with signed_in(node, alice) as browser:
        refused = browser.post("/statuses", data={"status": "forged post", "csrf_token": "x"})
        assert refused.status_code == 403
        good = browser.post(
            "/statuses", data={"status": "real post", "csrf_token": csrf(browser.get("/"))}
        )
        assert good.status_code == 303
    mine = node.api(alice, "GET", f"/api/v1/accounts/{alice.id}/statuses").json()
    assert [s["content"] for s in mine] == ["<p>real post</p>"]


def test_signed_out_visitors_are_asked_to_sign_in(node: RunningNode) -> None:
    for path in ("/local", "/company", "/notifications", "/settings", "/search?q=x"):
        answer = httpx.get(node.url + path, headers=HTML)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/auth/sign_in?next=")
    start = httpx.get(node.url + "/", headers=HTML)
    assert start.status_code == 200
    assert 'name="password"' in start.text


def test_signing_out_ends_the_live_stream_of_the_session(node: RunningNode, alice: User) -> None:
    with signed_in(node, alice) as browser:
        token = csrf(browser.get("/"))
        with browser.stream("GET", "/web/streaming", params={"stream": "user"}) as stream:
            assert stream.status_code == 200
            lines = stream.iter_lines()
            assert next(lines).startswith(":")
            with httpx.Client(base_url=node.url, cookies=browser.cookies, timeout=30) as other:
                other.post("/auth/sign_out", data={"csrf_token": token})
            for _ in lines:
                pass  # the stream ends (a stream that did not would hang the test)
        again = browser.get("/web/streaming", params={"stream": "user"})
        assert again.status_code == 401


def test_attachments_are_served_with_a_disposition_and_a_sandbox(
    node: RunningNode, alice: User
) -> None:
    picture = io.BytesIO()
    Image.new("RGB", (8, 8), (0, 0, 0)).save(picture, "PNG")
    uploads = {
        "image": ("dot.png", picture.getvalue(), "image/png"),
        "document": ("minutes.txt", b"Protokoll der Sitzung vom Montag\n", "text/plain"),
    }
    for kind, upload in uploads.items():
        media = node.api(alice, "POST", "/api/v2/media", files={"file": upload})
        assert media.status_code == 200, media.text
        served = httpx.get(media.json()["url"])
        assert served.status_code == 200
        assert "sandbox" in served.headers["content-security-policy"]
        expected = "inline" if kind == "image" else "attachment"
        assert served.headers["content-disposition"] == expected


def test_disabling_and_password_reset_end_browser_sessions_for_good(node: RunningNode) -> None:
    for action in ("disable", "reset-password"):
        user = node.create_user(f"ends-{action}")
        with signed_in(node, user) as browser:
            assert browser.get("/settings").status_code == 200
            node.cli("user", action, user.name)
            if action == "disable":
                node.cli("user", "enable", user.name)  # coming back revives no old session
            # The CLI's change reaches the running node within its 5 s promise.
            after = wait_for(lambda: signed_out(browser.get("/settings")), f"{action} ends it")
            assert "/auth/sign_in" in after.headers["location"]


def test_a_suspended_person_sees_why_on_every_page_but_their_warnings(node: RunningNode) -> None:
    user = node.create_user("suspended-page")
    with signed_in(node, user) as browser:
        node.cli("user", "suspend", user.name, "--reason", "Posted customer data")
        refused = browser.get("/settings")
        assert refused.status_code == 403
        assert "This account is suspended: Posted customer data" in refused.text
        own = browser.get("/settings/moderation")
        assert own.status_code == 200
        assert "Posted customer data" in own.text
        node.cli("user", "unsuspend", user.name)
        assert browser.get("/settings").status_code == 200


def test_moderation_pages_refuse_bad_input(node: RunningNode, alice: User) -> None:
    with signed_in(node, alice) as browser:
        assert browser.get("/admin/reports").status_code == 403
        assert browser.get("/admin/reports/123").status_code == 403
        assert browser.get(f"/@{alice.name}/abc/report").status_code == 404
        assert browser.get(f"/@{alice.name}/123/report").status_code == 404
        forged = browser.post("/settings/moderation/123/appeal", data={"text": "x"})
        assert forged.status_code == 403  # no CSRF token
        token = csrf(browser.get("/settings/moderation"))
        unknown = browser.post(
            "/settings/moderation/123/appeal", data={"csrf_token": token, "text": "x"}
        )
        assert unknown.status_code == 303
        assert "Record not found" in browser.get("/settings/moderation").text


def signed_out(page: httpx.Response) -> httpx.Response | None:
    return page if page.status_code == 303 else None


def test_the_live_scripts_pieces_answer_bad_input_with_4xx(node: RunningNode, alice: User) -> None:
    bob = node.create_user("bob")
    node.api(bob, "POST", "/api/v1/statuses", data={"status": "Quick question"}).raise_for_status()
    with signed_in(node, alice) as browser:
        for path in (
            "/web/notifications/abc",
            "/web/notifications/99999999999999999999999",
            "/web/notifications/12345",
            "/web/conversations/not-a-number",
            "/web/conversations/12345",
        ):
            assert browser.get(path).status_code == 404, path
        assert browser.get("/web/streaming", params={"stream": "nonsense"}).status_code == 400
        no_token = browser.post("/web/preview", data={"status": "@bob hi"})
        assert no_token.status_code == 403
        token = csrf(browser.get("/"))
        shown = browser.post(
            "/web/preview", data={"csrf_token": token, "status": f"@{bob.name} see #plans"}
        )
        assert shown.status_code == 200
        assert f'href="/@{bob.name}"' in shown.text
        assert 'href="/tags/plans"' in shown.text
    with httpx.Client(base_url=node.url, headers=HTML) as stranger:
        assert stranger.get("/web/notifications/1").status_code == 401
        assert stranger.get("/web/conversations/1").status_code == 401
        assert stranger.post("/web/preview", data={"status": "x"}).status_code == 401
