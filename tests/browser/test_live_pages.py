"""Live pages across two real nodes, live notifications and direct conversations, the
composer's preview with and without JavaScript."""

from __future__ import annotations

import secrets

from playwright.sync_api import Browser, Locator, expect

from tests.browser.conftest import Site
from tests.browser.kit import new_context, screenshot, sign_in
from tests.browser.test_staff_pages import assert_accessible, post_via_api
from tests.federation_kit import post, relationship, remote_account, wait_for
from tests.kit import User


def shown_text(link: Locator) -> str:
    """The text of a link's parts that take up room on the screen (what a reader sees)."""
    return str(
        link.evaluate(
            "a => [...a.childNodes].filter(n => n.nodeType === 3"
            " || n.getBoundingClientRect().width > 0).map(n => n.textContent).join('')"
        )
    )


def test_follow_a_colleague_on_a_second_node_and_see_their_next_post_live(
    browser: Browser, site: Site, alice: User
) -> None:
    carla = site.other.create_user("carla")
    handle = site.other.handle(carla)
    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, site.node, alice)
        search = page.get_by_role("searchbox", name="Search")
        search.fill(handle)
        search.press("Enter")
        expect(page.locator(".account-card", has_text=handle)).to_be_visible()
        screenshot(page, "search-second-node")
        page.get_by_role("button", name=f"Follow @{handle}").click()
        expect(page.get_by_role("button", name=f"Unfollow @{handle}")).to_be_visible()
        account = remote_account(site.node, alice, site.other, carla)
        wait_for(
            lambda: relationship(site.node, alice, account["id"])["following"] or None,
            f"{handle} accepting the follow",
        )

        page.get_by_role("link", name="Home").click()
        expect(page.locator("html")).to_have_attribute("data-live", "open")
        text = f"Quarterly numbers are out {secrets.token_hex(3)}"
        post(site.other, carla, text)
        arrived = page.locator("article.status", has_text=text)
        expect(arrived).to_be_visible()
        expect(arrived).to_contain_text(handle)
        screenshot(page, "home-post-from-second-node")


def test_a_direct_message_arrives_live_in_the_recipients_conversations(
    browser: Browser, site: Site, alice: User, bob: User
) -> None:
    text = f"@{bob.name} Lunch on Friday? {secrets.token_hex(3)}"
    with new_context(browser) as bobs, new_context(browser) as alices:
        bob_page = bobs.new_page()
        sign_in(bob_page, site.node, bob)
        bob_page.get_by_role("link", name="Conversations").click()
        expect(bob_page.locator("html")).to_have_attribute("data-live", "open")

        alice_page = alices.new_page()
        sign_in(alice_page, site.node, alice)
        alice_page.goto(site.node.url + "/conversations")
        alice_page.get_by_label("What's new?").fill(text)
        alice_page.get_by_role("button", name="Post").click()
        expect(alice_page.locator(".conversation").first).to_contain_text("Lunch on Friday?")

        arrived = bob_page.locator(".conversation").first
        expect(arrived).to_contain_text(text.split(" ", 1)[1])
        expect(arrived).to_contain_text(alice.name)
        expect(arrived).to_contain_text("unread")
        assert_accessible(bob_page)
        screenshot(bob_page, "conversations-live")

        # An answer in the same conversation moves it to the top, once.
        first = alice_page.locator(".conversation article.status").first.get_attribute("data-id")
        assert first is not None
        answer = f"@{bob.name} Or Thursday {secrets.token_hex(3)}"
        post_via_api(site, alice, answer, visibility="direct", in_reply_to_id=first)
        expect(bob_page.locator(".conversation").first).to_contain_text("Or Thursday")
        expect(bob_page.locator(".conversation", has_text="Or Thursday")).to_have_count(1)


def test_notifications_arrive_live(browser: Browser, site: Site, alice: User, bob: User) -> None:
    posted = post_via_api(site, alice, "The canteen menu for next week")
    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, site.node, alice)
        page.get_by_role("link", name="Notifications").click()
        expect(page.locator("html")).to_have_attribute("data-live", "open")
        assert site.node.api(bob, "POST", f"/api/v1/statuses/{posted['id']}/favourite").is_success
        favourite = page.locator(".notification", has_text="favourited your post")
        expect(favourite).to_contain_text(bob.name)
        expect(favourite).to_contain_text("The canteen menu")
        assert site.node.api(bob, "POST", f"/api/v1/accounts/{alice.id}/follow").is_success
        expect(page.locator(".notification").first).to_contain_text("followed you")
        expect(page.locator(".notification").nth(1)).to_contain_text("favourited your post")
        assert_accessible(page)
        screenshot(page, "notifications-live")


def test_without_javascript_notifications_and_conversations_are_plain_pages(
    browser: Browser, site: Site, alice: User, bob: User
) -> None:
    posted = post_via_api(site, alice, "Fire drill at eleven")
    assert site.node.api(bob, "POST", f"/api/v1/statuses/{posted['id']}/favourite").is_success
    post_via_api(site, bob, f"@{alice.name} See you at the assembly point", visibility="direct")
    with new_context(browser, java_script_enabled=False) as context:
        page = context.new_page()
        sign_in(page, site.node, alice)
        page.get_by_role("link", name="Notifications").click()
        expect(page.locator(".notification", has_text="favourited your post")).to_contain_text(
            bob.name
        )
        page.get_by_role("link", name="Conversations").click()
        expect(page.locator(".conversation", has_text="assembly point")).to_contain_text(bob.name)
        assert page.locator("html").get_attribute("data-live") is None


def test_the_preview_opens_under_the_composer_with_javascript(
    browser: Browser, site: Site, alice: User, bob: User
) -> None:
    long_link = "https://intranet.example/handbook/chapter-seven/holidays-and-leave"
    text = f"@{bob.name} read {long_link} #leave"
    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, site.node, alice)
        page.get_by_label("What's new?").fill(text)
        page.get_by_role("button", name="Preview").click()
        preview = page.locator("#compose section.preview")
        expect(preview.get_by_role("heading", name="How the post will look")).to_be_visible()
        link = preview.get_by_role("link", name=long_link)
        expect(link).to_have_attribute("href", long_link)
        # Shortened as Mastodon shows it: no scheme, 30 characters and an ellipsis.
        assert shown_text(link) == "intranet.example/handbook/chap"
        expect(preview.locator(".content a.mention", has_text=bob.name)).to_have_attribute(
            "href", f"/@{bob.name}"
        )
        expect(preview.locator(".content").get_by_role("link", name="#leave")).to_have_attribute(
            "href", "/tags/leave"
        )
        expect(page.get_by_role("heading", level=1)).to_have_text("Home")
        assert_accessible(page)
        screenshot(page, "compose-preview")
        page.get_by_role("button", name="Post").click()
        posted = page.locator("article.status", has_text="holidays-and-leave").first
        expect(posted.get_by_role("link", name=long_link)).to_have_attribute("href", long_link)
        assert shown_text(posted.get_by_role("link", name=long_link)).startswith("intranet.")
