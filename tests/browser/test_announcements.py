"""Announcements in the browser: an admin publishes one that must be acknowledged; a
colleague reading German sees it pinned above the home timeline, confirms "Gelesen", and the
admin's receipts page shows the read. Both pages pass axe."""

from __future__ import annotations

import secrets

from playwright.sync_api import Browser, expect

from tests.browser.conftest import Site
from tests.browser.kit import new_context, serious_violations, sign_in
from tests.kit import User


def test_publish_acknowledge_and_see_the_receipt(
    browser: Browser, site: Site, admin: User, alice: User
) -> None:
    text = f"Canteen closed on Friday {secrets.token_hex(3)}"
    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, site.node, admin)
        page.goto(site.node.url + "/admin/announcements")
        page.get_by_label("Text (Markdown)").fill(text)
        page.get_by_label("This node only").check()
        page.get_by_label("Acknowledgement required").check()
        page.get_by_role("button", name="Publish").click()
        expect(page.get_by_role("status")).to_have_text("The announcement was published.")
        row = page.locator("li.announcement-row", has_text=text)
        expect(row).to_have_count(1)
        assert serious_violations(page) == []

    with new_context(browser, "de-DE") as context:
        page = context.new_page()
        sign_in(page, site.node, alice, button="Anmelden")
        pinned = page.locator("article.announcement", has_text=text)
        expect(pinned).to_be_visible()
        assert serious_violations(page) == []
        pinned.get_by_role("button", name="Gelesen").click()
        page.wait_for_url(site.node.url + "/")
        expect(page.locator("article.announcement", has_text=text)).to_have_count(0)

    acct = f"{alice.name}@{site.node.domain}"
    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, site.node, admin)
        page.goto(site.node.url + "/admin/announcements")
        page.locator("li.announcement-row", has_text=text).get_by_role(
            "link", name="Read receipts"
        ).click()
        here = page.locator(f"table.receipts tr[data-host='{site.node.domain}']")
        expect(here.locator(".acknowledged")).to_have_text("1")
        expect(page.locator("ul.not-acknowledged")).not_to_contain_text(acct)
        expect(page.locator("ul.not-acknowledged")).to_contain_text(f"{admin.name}@")
        assert serious_violations(page) == []
