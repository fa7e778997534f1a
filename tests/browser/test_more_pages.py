"""Search with a colleague on another node, direct messages, attachments, notifications and
settings, in the browser."""

from __future__ import annotations

import io
import secrets

import orjson
from PIL import Image
from playwright.sync_api import Browser, FilePayload, expect

from tests.browser.conftest import Site
from tests.browser.kit import new_context, screenshot, sign_in
from tests.browser.test_staff_pages import assert_accessible, post_via_api
from tests.federation_kit import AS_CONTEXT, PUBLIC, relationship, wait_for
from tests.integration.test_media import pdf
from tests.kit import User

AS = "application/activity+json"


def test_follow_a_colleague_on_another_node_and_see_their_next_post_live(
    browser: Browser, site: Site, alice: User
) -> None:
    actor = site.remote_actor("carla" + secrets.token_hex(2))
    handle = f"{actor.name}@{site.remote_host}"
    site.peer.answer(
        "/.well-known/webfinger",
        200,
        orjson.dumps(
            {"subject": f"acct:{handle}", "links": [{"rel": "self", "type": AS, "href": actor.uri}]}
        ),
        content_type="application/jrd+json",
    )
    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, site.node, alice)
        search = page.get_by_role("searchbox", name="Search")
        search.fill(handle)
        search.press("Enter")
        expect(page.get_by_role("heading", level=1)).to_have_text("Search")
        expect(page.locator(".account-card", has_text=handle)).to_be_visible()
        assert_accessible(page)
        screenshot(page, "search-remote")
        page.get_by_role("button", name=f"Follow @{handle}").click()
        expect(page.get_by_role("button", name=f"Unfollow @{handle}")).to_be_visible()

        def follow_sent() -> dict[str, object] | None:
            for received in list(site.peer.received):
                if received.method == "POST" and received.body:
                    activity = orjson.loads(received.body)
                    if activity.get("type") == "Follow" and activity.get("object") == actor.uri:
                        return dict(activity)
            return None

        follow = wait_for(follow_sent, "the Follow delivered to the other node")
        bare = {k: v for k, v in follow.items() if k != "@context"}
        assert actor.post(site.node, actor.activity("Accept", bare)).status_code == 202
        account = site.node.api(alice, "GET", "/api/v1/accounts/lookup", params={"acct": handle})
        wait_for(
            lambda: relationship(site.node, alice, account.json()["id"])["following"] or None,
            "the follow accepted",
        )

        page.goto(site.node.url + "/")
        expect(page.locator("html")).to_have_attribute("data-live", "open")
        uri = f"{actor.uri}/statuses/{secrets.token_hex(6)}"
        text = f"Sales figures are in {secrets.token_hex(3)}"
        note = {
            "id": uri,
            "type": "Note",
            "attributedTo": actor.uri,
            "content": f"<p>{text}</p>",
            "published": "2026-12-01T09:00:00Z",
            "to": [PUBLIC],
            "cc": [actor.uri + "/followers"],
        }
        create = {
            "@context": AS_CONTEXT,
            "id": uri + "/activity",
            "type": "Create",
            "actor": actor.uri,
            "to": note["to"],
            "cc": note["cc"],
            "object": note,
        }

        assert actor.post(site.node, create).status_code == 202
        expect(page.locator("article.status", has_text=text)).to_be_visible()
        expect(page.locator("article.status", has_text=text)).to_contain_text(handle)


def test_a_direct_message_shows_in_the_recipients_conversations(
    browser: Browser, site: Site, alice: User, bob: User
) -> None:
    text = f"@{bob.name} Lunch on Friday? {secrets.token_hex(3)}"
    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, site.node, alice)
        page.goto(site.node.url + "/conversations")
        expect(page.locator("select[name=visibility]")).to_have_value("direct")
        page.get_by_label("What's new?").fill(text)
        page.get_by_role("button", name="Post").click()
        expect(page.locator(".conversation article.status").first).to_contain_text("Lunch")
    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, site.node, bob)
        page.goto(site.node.url + "/conversations")
        conversation = page.locator(".conversation", has_text="Lunch on Friday?")
        expect(conversation).to_contain_text(alice.name)
        expect(conversation).to_contain_text("unread")
        assert_accessible(page)
        screenshot(page, "conversations")


def test_upload_an_image_with_alt_text(
    browser: Browser, site: Site, alice: User, tmp_path: object
) -> None:
    picture = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(picture, "PNG")
    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, site.node, alice)
        page.get_by_label("What's new?").fill("The new floor plan")
        page.get_by_text("Content warning, attachment, poll").click()
        plan: FilePayload = {
            "name": "plan.png",
            "mimeType": "image/png",
            "buffer": picture.getvalue(),
        }
        page.get_by_label("Attach a file").set_input_files(files=[plan])
        page.get_by_label("Alt text").fill("A red rectangle standing in for the floor plan")
        page.get_by_role("button", name="Post").click()
        image = page.locator("article.status").first.locator("ul.media img")
        expect(image).to_have_attribute("alt", "A red rectangle standing in for the floor plan")
        # The picture itself arrives (not a broken image): waited for, as a browser loads it
        # after the page.
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
        )
        page.locator("article.status").first.locator("a.when").click()
        expect(page.locator("article.status.focus ul.media img")).to_have_attribute(
            "alt", "A red rectangle standing in for the floor plan"
        )
        screenshot(page, "status-with-image")


def test_attach_a_pdf_and_see_it_as_a_download_with_its_first_page(
    browser: Browser, site: Site, alice: User
) -> None:
    report = pdf(pages=2)
    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, site.node, alice)
        page.get_by_label("What's new?").fill("Der Quartalsbericht zum Lesen")
        page.get_by_text("Content warning, attachment, poll").click()
        payload: FilePayload = {
            "name": "Quartalsbericht Q3.pdf",
            "mimeType": "application/pdf",
            "buffer": report,
        }
        page.get_by_label("Attach a file").set_input_files(files=[payload])
        expect(page.locator("#compose .chosen-file")).to_contain_text("Quartalsbericht Q3.pdf")
        # Posting waits for the PDF's first page to be rendered (a child process): seconds.
        with page.expect_navigation(timeout=120_000):
            page.get_by_role("button", name="Post").click(no_wait_after=True)
        document = page.locator("article.status").first.locator("figure.document")
        link = document.locator("a.download")
        expect(link).to_have_text("Quartalsbericht Q3.pdf")
        # The icon is drawn (an SVG), not an emoji that Debian's Chromium shows as a box; the
        # link's name stays the file's name.
        icon = link.locator("svg")
        expect(icon).to_have_attribute("aria-hidden", "true")
        expect(icon).to_be_visible()
        assert "\U0001f4c4" not in link.inner_text()
        assert link.evaluate("a => getComputedStyle(a, '::before').content") == "none"
        expect(page.get_by_role("link", name="Quartalsbericht Q3.pdf", exact=True)).to_have_count(1)
        expect(document.locator(".file-size")).to_have_text(f"{round(len(report) / 1024)} KB")
        preview = document.locator("img")
        expect(preview).to_have_attribute("alt", "First page of Quartalsbericht Q3.pdf")
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=preview.element_handle()
        )
        with page.expect_download() as download:
            link.click()
        assert download.value.suggested_filename == "Quartalsbericht Q3.pdf"
        with open(download.value.path(), "rb") as saved:
            assert saved.read() == report
        screenshot(page, "status-with-pdf")


def test_notifications_list_what_colleagues_did(
    browser: Browser, site: Site, alice: User, bob: User
) -> None:
    posted = post_via_api(site, alice, "Slides for Monday are in the shared drive")
    assert site.node.api(bob, "POST", f"/api/v1/statuses/{posted['id']}/favourite").is_success
    assert site.node.api(bob, "POST", f"/api/v1/accounts/{alice.id}/follow").is_success
    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, site.node, alice)
        page.get_by_role("link", name="Notifications").click()
        expect(page.locator(".notification", has_text="favourited your post")).to_contain_text(
            bob.name
        )
        expect(page.locator(".notification", has_text="followed you")).to_contain_text(bob.name)
        assert_accessible(page)
        screenshot(page, "notifications")


def test_settings_in_german_change_the_profile(browser: Browser, site: Site, alice: User) -> None:
    with new_context(browser, language="de-DE") as context:
        page = context.new_page()
        sign_in(page, site.node, alice, button="Anmelden")
        page.get_by_role("link", name="Einstellungen").click()
        page.get_by_label("Anzeigename").fill("Alice Schmidt")
        page.get_by_label("Über mich").fill("Einkauf, Standort Köln")
        page.get_by_role("button", name="Speichern").first.click()
        expect(page.get_by_role("status")).to_have_text("Gespeichert.")
        assert_accessible(page)
        screenshot(page, "settings-de")
        page.goto(f"{site.node.url}/@{alice.name}")
        expect(page.get_by_role("heading", level=1)).to_have_text("Alice Schmidt")
        expect(page.locator(".bio")).to_contain_text("Einkauf, Standort Köln")


def test_the_language_setting_wins_over_the_browser(
    browser: Browser, site: Site, alice: User
) -> None:
    with new_context(browser, language="en-GB") as context:
        page = context.new_page()
        sign_in(page, site.node, alice)
        page.goto(site.node.url + "/settings")
        page.get_by_label("Language of these pages").select_option("de")
        page.locator("form[action='/settings/language'] button").click()
        expect(page.get_by_role("status")).to_have_text("Gespeichert.")
        page.goto(site.node.url + "/")
        expect(page.get_by_role("button", name="Veröffentlichen")).to_be_visible()


def test_a_password_change_signs_out_other_browsers(
    browser: Browser, site: Site, alice: User
) -> None:
    with new_context(browser) as laptop, new_context(browser) as phone:
        on_laptop, on_phone = laptop.new_page(), phone.new_page()
        sign_in(on_laptop, site.node, alice)
        sign_in(on_phone, site.node, alice)
        on_laptop.goto(site.node.url + "/settings")
        on_laptop.get_by_label("Current password").fill(alice.password)
        on_laptop.get_by_label("New password", exact=True).fill("a much longer new password")
        on_laptop.get_by_label("New password again").fill("a much longer new password")
        on_laptop.get_by_role("button", name="Change password").click()
        expect(on_laptop.get_by_role("status")).to_contain_text("Password changed")
        on_phone.reload()
        expect(on_phone.get_by_role("heading", level=1)).to_have_text("Sign in")
        on_laptop.goto(site.node.url + "/")
        expect(on_laptop.get_by_role("heading", level=1)).to_have_text("Home")


def test_edit_a_post_and_read_its_history(browser: Browser, site: Site, alice: User) -> None:
    posted = post_via_api(site, alice, "Team lunch on Thursday")
    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, site.node, alice)
        page.goto(f"{site.node.url}/@{alice.name}/{posted['id']}")
        page.locator("article.status.focus").get_by_role("link", name="Edit").click()
        page.get_by_label("What's new?").fill("Team lunch on Friday")
        page.get_by_role("button", name="Save").click()
        focus = page.locator("article.status.focus")
        expect(focus).to_contain_text("Team lunch on Friday")
        focus.get_by_role("link", name="Edited").click()
        expect(page.locator("ol.history")).to_contain_text("Team lunch on Thursday")
        expect(page.locator("ol.history")).to_contain_text("Team lunch on Friday")
        assert_accessible(page)


def test_vote_in_a_poll(browser: Browser, site: Site, alice: User, bob: User) -> None:
    post_via_api(
        site,
        bob,
        "Where should the summer party be?",
        **{"poll[options][]": ["Rooftop", "Park"], "poll[expires_in]": "3600"},
    )
    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, site.node, alice)
        page.goto(site.node.url + "/local")
        card = page.locator("article.status", has_text="Where should the summer party be?")
        card.get_by_label("Park").check()
        card.get_by_role("button", name="Vote").click()
        card = page.locator("article.status", has_text="Where should the summer party be?")
        expect(card.locator("ul.poll")).to_contain_text("Park · 1 vote")


def test_approve_a_follow_request(browser: Browser, site: Site, bob: User) -> None:
    carol = site.node.create_user("carol", locked=True)
    assert site.node.api(bob, "POST", f"/api/v1/accounts/{carol.id}/follow").is_success
    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, site.node, carol)
        page.get_by_role("link", name="Notifications").click()
        page.get_by_role("link", name="Follow requests").click()
        page.get_by_role("button", name=f"Approve @{bob.name}").click()
        expect(page.get_by_text("No follow requests.")).to_be_visible()
    relation = site.node.api(
        bob, "GET", "/api/v1/accounts/relationships", params={"id[]": carol.id}
    ).json()
    assert relation[0]["following"] is True


def test_revoke_an_apps_access_and_change_the_avatar(
    browser: Browser, site: Site, alice: User
) -> None:
    picture = io.BytesIO()
    Image.new("RGB", (120, 120), (30, 120, 200)).save(picture, "PNG")
    avatar: FilePayload = {"name": "me.png", "mimeType": "image/png", "buffer": picture.getvalue()}
    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, site.node, alice)
        page.goto(site.node.url + "/settings")
        page.get_by_label("Avatar").set_input_files(files=[avatar])
        page.get_by_role("button", name="Save").first.click()
        expect(page.get_by_role("status")).to_have_text("Saved.")
        me = site.node.api(alice, "GET", "/api/v1/accounts/verify_credentials").json()
        assert "missing" not in me["avatar"]
        page.get_by_role("button", name="Revoke access of flurfunk tests").click()
        expect(page.get_by_role("status")).to_have_text("Access revoked.")
    refused = site.node.api(alice, "GET", "/api/v1/accounts/verify_credentials")
    assert refused.status_code == 401


def test_edits_and_deletions_show_live(
    browser: Browser, site: Site, alice: User, bob: User
) -> None:
    assert site.node.api(alice, "POST", f"/api/v1/accounts/{bob.id}/follow").is_success
    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, site.node, alice)
        expect(page.locator("html")).to_have_attribute("data-live", "open")
        posted = post_via_api(site, bob, "Printer on floor 2 is out of toner")
        card = page.locator(f"#status-{posted['id']}")
        expect(card).to_contain_text("out of toner")
        edited = site.node.api(
            bob, "PUT", f"/api/v1/statuses/{posted['id']}", data={"status": "Printer fixed"}
        )
        assert edited.status_code == 200, edited.text
        expect(card).to_contain_text("Printer fixed")
        assert site.node.api(bob, "DELETE", f"/api/v1/statuses/{posted['id']}").is_success
        expect(card).to_have_count(0)


def test_bookmarks_and_a_list_timeline(
    browser: Browser, site: Site, alice: User, bob: User
) -> None:
    posted = post_via_api(site, bob, "Parking garage closed on Saturday")
    assert site.node.api(alice, "POST", f"/api/v1/accounts/{bob.id}/follow").is_success
    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, site.node, alice)
        page.goto(f"{site.node.url}/@{bob.name}/{posted['id']}")
        page.locator("article.status.focus").get_by_role("button", name="Bookmark").click()
        page.get_by_role("link", name="Bookmarks").click()
        expect(page.locator("article.status")).to_contain_text("Parking garage closed")
        page.get_by_role("link", name="Lists").click()
        page.get_by_label("Title").fill("Facilities")
        page.get_by_role("button", name="Add").click()
        expect(page.get_by_role("link", name="Facilities")).to_be_visible()
        assert_accessible(page)
        page.goto(f"{site.node.url}/@{bob.name}")
        page.get_by_label("List").select_option(label="Facilities")
        page.get_by_role("button", name="Add").click()
        expect(page.get_by_label("List")).to_contain_text("Facilities ✓")
        page.get_by_role("link", name="Lists").click()
        page.get_by_role("link", name="Facilities").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Facilities")
        expect(page.locator("html")).to_have_attribute("data-live", "open")
        post_via_api(site, bob, "Garage open again")
        expect(page.locator("article.status", has_text="Garage open again")).to_be_visible()
