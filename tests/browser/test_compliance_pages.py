"""The compliance team in the browser: the reminder set on /admin/compliance shows above a
colleague's composer; a hold term keeps the colleague's post back ("pending review" only for
them) until the officer releases it; /admin/audit filters the log. Both pages pass axe."""

from __future__ import annotations

import secrets

from playwright.sync_api import Browser, expect

from tests.browser.conftest import Site
from tests.browser.kit import new_context, screenshot, serious_violations, sign_in
from tests.kit import User


def test_reminder_hold_release_and_the_audit_page(
    browser: Browser, site: Site, admin: User, alice: User
) -> None:
    node = site.node
    word = f"falke{secrets.token_hex(3)}"
    reminder = "Keine Quartalszahlen vor der Veröffentlichung."
    with new_context(browser) as officer:
        page = officer.new_page()
        sign_in(page, node, admin)
        page.goto(node.url + "/admin/compliance")
        page.get_by_label("Reminder", exact=True).fill(reminder)
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_role("status")).to_have_text("Saved.")
        page.get_by_label("Word, phrase or regular expression").fill(word)
        page.get_by_label("Label (what it watches for)").fill("unreleased products")
        page.get_by_label("Hold matching posts until released").check()
        page.get_by_role("button", name="Add term").click()
        expect(page.get_by_role("status")).to_have_text("Watch term added.")
        assert serious_violations(page) == []

        with new_context(browser) as colleague:
            mine = colleague.new_page()
            sign_in(mine, node, alice)
            expect(mine.locator("#compose .confidentiality-reminder")).to_contain_text(reminder)
            mine.locator("#compose-text").fill(f"Projekt {word} startet")
            mine.locator("#compose").get_by_role("button", name="Post").click()
            mine_post = mine.locator("article", has_text=word).first
            expect(mine_post.locator(".pending-review")).to_contain_text("Pending review")

        page.goto(node.url + "/admin/compliance")
        held = page.locator("li.held-post", has_text=word)
        expect(held).to_contain_text("unreleased products")
        held.get_by_role("button", name=f"Release the post of {alice.name}").click()
        expect(page.get_by_role("status")).to_have_text("The post is released.")
        expect(page.locator("li.held-post", has_text=word)).to_have_count(0)
        page.locator("li.watch-term", has_text=word).get_by_role("button").click()
        expect(page.get_by_role("status")).to_have_text("Watch term removed.")

        page.goto(node.url + "/admin/audit")
        page.get_by_label("Action").fill("watch")
        page.get_by_role("button", name="Filter").click()
        rows = page.locator("tr.audit-entry")
        expect(rows.first).to_contain_text("watch.remove")
        expect(page.locator("tr.audit-entry", has_text="watch.release")).to_have_count(1)
        expect(page.locator("tr.audit-entry", has_text="compliance.reminder")).to_have_count(0)
        assert serious_violations(page) == []
        screenshot(page, "admin-audit")
        page.goto(node.url + "/admin/compliance")
        page.get_by_label("Reminder", exact=True).fill("")
        page.get_by_role("button", name="Save").click()
