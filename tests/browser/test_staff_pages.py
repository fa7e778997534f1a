"""What staff do in the browser: sign in, post, read live, reply, follow — in English and
German, with remote HTML made harmless, and without serious accessibility findings."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
from playwright.sync_api import Browser, Dialog, Page, expect

from tests.browser.conftest import Site
from tests.browser.kit import PHONE, new_context, screenshot, serious_violations, sign_in
from tests.federation_kit import AS_CONTEXT, PUBLIC, wait_for
from tests.kit import User


def post_via_api(site: Site, user: User, text: str, **fields: Any) -> dict[str, Any]:
    answer = site.node.api(user, "POST", "/api/v1/statuses", data={"status": text, **fields})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def assert_accessible(page: Page) -> None:
    violations = serious_violations(page)
    assert violations == [], "\n".join(violations)


def test_sign_in_post_and_see_the_post(browser: Browser, site: Site, alice: User) -> None:
    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, site.node, alice)
        expect(page.get_by_role("heading", level=1)).to_have_text("Home")
        expect(page.get_by_role("searchbox", name="Search")).to_be_visible()
        text = f"Coffee at ten in the atrium {secrets.token_hex(3)}"
        page.get_by_label("What's new?").fill(text)
        expect(page.locator("#compose-count .used")).to_have_text(str(len(text)))
        page.locator("select[name=visibility]").select_option("public")
        page.get_by_role("button", name="Post").click()
        expect(page.locator("article.status").first).to_contain_text(text)
        assert_accessible(page)
        screenshot(page, "home-timeline")


def test_a_colleagues_post_appears_without_reload(
    browser: Browser, site: Site, alice: User, bob: User
) -> None:
    follow = site.node.api(alice, "POST", f"/api/v1/accounts/{bob.id}/follow")
    assert follow.status_code == 200, follow.text
    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, site.node, alice)
        expect(page.locator("html")).to_have_attribute("data-live", "open")
        page.evaluate("() => { window.notReloaded = true; }")
        text = f"Standup moved to 9:30 {secrets.token_hex(3)}"
        post_via_api(site, bob, text)
        expect(page.locator("article.status", has_text=text)).to_be_visible()
        assert page.evaluate("window.notReloaded") is True  # the same page, never reloaded
        screenshot(page, "home-live-update")


def test_the_local_timeline_shows_new_posts_in_a_bar_when_scrolled_down(
    browser: Browser, site: Site, alice: User, bob: User
) -> None:
    for n in range(12):
        post_via_api(site, bob, f"Filler post number {n} for scrolling")
    with new_context(browser, viewport=PHONE) as context:
        page = context.new_page()
        sign_in(page, site.node, alice)
        page.goto(site.node.url + "/local")
        expect(page.locator("html")).to_have_attribute("data-live", "open")
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        assert page.evaluate("window.scrollY") > 300
        text = f"Fire drill at noon {secrets.token_hex(3)}"
        post_via_api(site, bob, text)
        bar = page.locator(".new-posts button")
        expect(bar).to_have_text("1 new post")
        post_via_api(site, bob, f"Second drill {secrets.token_hex(3)}")
        expect(bar).to_have_text("2 new posts")
        bar.click()
        expect(page.locator("article.status").first).to_contain_text(text)
        screenshot(page, "local-phone")


def test_reply_in_a_thread(browser: Browser, site: Site, alice: User, bob: User) -> None:
    original = post_via_api(site, bob, "Who has the key to room 4.12?")
    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, site.node, alice)
        page.goto(f"{site.node.url}/@{bob.name}/{original['id']}")
        expect(page.get_by_role("heading", level=1)).to_contain_text(bob.name)
        reply = page.locator("#reply-text")
        expect(reply).to_have_value(f"@{bob.name} ")
        reply.fill(f"@{bob.name} Reception keeps it.")
        page.get_by_role("button", name="Reply", exact=True).click()
        replies = page.locator("section", has=page.get_by_role("heading", name="Replies"))
        expect(replies.locator("article.status")).to_contain_text("Reception keeps it.")
        in_reply = replies.get_by_role("link", name=f"In reply to @{bob.name}")
        expect(in_reply).to_have_attribute("href", f"/@{bob.name}/{original['id']}")
        mention = replies.locator(".content").get_by_role("link", name=f"@{bob.name}")
        expect(mention).to_have_attribute("href", f"/@{bob.name}")
        assert_accessible(page)
        screenshot(page, "thread")
        replies.locator("article.status a.when").first.click()
        ancestors = page.locator("section.thread").first
        expect(ancestors).to_contain_text("Who has the key to room 4.12?")


def test_follow_and_unfollow_from_the_profile(
    browser: Browser, site: Site, alice: User, bob: User
) -> None:
    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, site.node, alice)
        page.goto(f"{site.node.url}/@{bob.name}")
        expect(page.get_by_role("heading", level=1)).to_have_text(bob.name)
        page.get_by_role("button", name="Follow", exact=True).click()
        expect(page.get_by_role("button", name="Unfollow")).to_be_visible()
        assert_accessible(page)
        screenshot(page, "profile")
        page.get_by_role("button", name="Unfollow").click()
        expect(page.get_by_role("button", name="Follow", exact=True)).to_be_visible()


def test_german_pages_for_a_german_browser(browser: Browser, site: Site, alice: User) -> None:
    with new_context(browser, language="de-DE") as context:
        page = context.new_page()
        page.goto(site.node.url + "/")
        expect(page.locator("html")).to_have_attribute("lang", "de")
        sign_in(page, site.node, alice, button="Anmelden")
        expect(page.get_by_label("Was gibt's Neues?")).to_be_visible()
        expect(page.get_by_role("button", name="Veröffentlichen")).to_be_visible()
        expect(page.get_by_role("searchbox", name="Suchen")).to_be_visible()
        expect(page.get_by_role("button", name="Abmelden")).to_be_visible()
        page.get_by_text("Inhaltswarnung, Anhang, Umfrage").click()
        expect(page.get_by_label("Alternativtext")).to_be_visible()
        assert_accessible(page)
        screenshot(page, "home-de")


def test_a_remote_post_with_script_payloads_is_harmless(
    browser: Browser, site: Site, alice: User
) -> None:
    actor = site.remote_actor("mallory" + secrets.token_hex(2))
    uri = f"{actor.uri}/statuses/{secrets.token_hex(6)}"
    alice_uri = f"{site.node.public_url}/users/{alice.name}"
    note = {
        "id": uri,
        "type": "Note",
        "attributedTo": actor.uri,
        "content": (
            f'<p><a href="{alice_uri}">@{alice.name}</a> Quarterly numbers '
            "<script>window.pwned = 'script'</script>"
            "<img src=x onerror=\"window.pwned = 'onerror'\">"
            '<a href="javascript:window.pwned=1">details</a></p>'
        ),
        "published": "2026-12-01T09:00:00Z",
        "to": [PUBLIC, alice_uri],
        "tag": [{"type": "Mention", "href": alice_uri, "name": f"@{alice.name}"}],
    }
    activity = {
        "@context": AS_CONTEXT,
        "id": uri + "/activity",
        "type": "Create",
        "actor": actor.uri,
        "to": note["to"],
        "object": note,
    }
    assert actor.post(site.node, activity).status_code == 202

    def stored() -> str | None:
        found = site.node.api(
            alice, "GET", "/api/v2/search", params={"q": uri, "type": "statuses"}
        ).json()
        return next((s["id"] for s in found.get("statuses", []) if s["uri"] == uri), None)

    status_id = wait_for(stored, "the remote post stored")
    with new_context(browser) as context:
        page = context.new_page()
        dialogs: list[str] = []

        def refuse(dialog: Dialog) -> None:
            dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", refuse)
        sign_in(page, site.node, alice)
        page.goto(f"{site.node.url}/@{actor.name}@{site.remote_host}/{status_id}")
        content = page.locator("article.status.focus .content")
        expect(content).to_contain_text("Quarterly numbers")
        assert content.locator("script").count() == 0
        assert content.locator("[onerror]").count() == 0
        assert content.locator("a[href^='javascript']").count() == 0
        assert page.evaluate("typeof window.pwned") == "undefined"
        assert dialogs == []
        screenshot(page, "remote-post")


def test_pages_are_accessible_on_a_phone(browser: Browser, site: Site, alice: User) -> None:
    post_via_api(site, alice, "A post so that the timelines are not empty #lunch")
    with new_context(browser, viewport=PHONE) as context:
        page = context.new_page()
        page.goto(site.node.url + "/")
        assert_accessible(page)
        screenshot(page, "sign-in-phone")
        sign_in(page, site.node, alice)
        pages = {
            "home": "/",
            "local": "/local",
            "company": "/company",
            "tag": "/tags/lunch",
            "profile": f"/@{alice.name}",
            "search": "/search?q=lunch",
            "explore": "/explore?q=a",
            "notifications": "/notifications",
            "conversations": "/conversations",
            "settings": "/settings",
            "lists": "/lists",
            "not-found": "/no/such",
        }
        for name, path in pages.items():
            page.goto(site.node.url + path)
            expect(page.get_by_role("heading", level=1)).to_have_count(1)
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
            assert_accessible(page)
            screenshot(page, "phone-" + name)


def test_a_copied_cookie_stops_working_after_sign_out(
    browser: Browser, site: Site, alice: User
) -> None:
    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, site.node, alice)
        cookies = context.cookies()
        assert all(c["httpOnly"] and c["sameSite"] == "Lax" for c in cookies)
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    copied = httpx.get(
        site.node.url + "/",
        cookies={c["name"]: c["value"] for c in cookies},
        headers={"Accept": "text/html"},
    )
    assert 'action="/auth/sign_out"' not in copied.text
    assert 'name="password"' in copied.text


def test_preview_shows_what_links_mentions_and_hashtags_become(
    browser: Browser, site: Site, alice: User, bob: User
) -> None:
    text = f"@{bob.name} the plan is at https://wiki.example/plan #planning"
    with new_context(browser) as context:
        # Without the node's script (axe still needs the browser's JavaScript to run).
        context.route("**/static/app.js", lambda route: route.abort())
        page = context.new_page()
        sign_in(page, site.node, alice)
        page.get_by_label("What's new?").fill(text)
        page.get_by_role("button", name="Preview").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Preview")
        preview = page.locator("section.status")
        expect(preview.get_by_role("link", name="https://wiki.example/plan")).to_be_visible()
        expect(preview).to_contain_text(f"Mentions: @{bob.name}")
        expect(preview).to_contain_text("Hashtags: #planning")
        expect(preview.get_by_role("link", name=f"@{bob.name}").first).to_have_attribute(
            "href", f"/@{bob.name}"
        )
        expect(preview.get_by_role("link", name="#planning").first).to_have_attribute(
            "href", "/tags/planning"
        )
        assert_accessible(page)
        expect(page.get_by_label("What's new?")).to_have_value(text)
        page.get_by_role("button", name="Post").click()
        page.wait_for_url(site.node.url + "/")
        expect(page.locator("article.status").first).to_contain_text("the plan is at")


def test_favourite_and_boost_from_a_timeline_stay_on_it(
    browser: Browser, site: Site, alice: User, bob: User
) -> None:
    posted = post_via_api(site, bob, "Canteen has soup today")
    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, site.node, alice)
        page.goto(site.node.url + "/local")
        card = page.locator(f"#status-{posted['id']}")
        card.get_by_role("button", name="Favourite").click()
        expect(page).to_have_url(f"{site.node.url}/local#status-{posted['id']}")
        card = page.locator(f"#status-{posted['id']}")
        expect(card.get_by_role("button", name="Favourite (1)")).to_have_attribute(
            "aria-pressed", "true"
        )
        card.get_by_role("button", name="Boost").click()
        expect(card.get_by_role("button", name="Boost (1)")).to_have_attribute(
            "aria-pressed", "true"
        )
    favourited = site.node.api(bob, "GET", f"/api/v1/statuses/{posted['id']}").json()
    assert favourited["favourites_count"] == 1
    assert favourited["reblogs_count"] == 1
