"""The moderation flow in a browser: a colleague reports a post, a moderator suspends its
author from the report with a reason, the author signs in, reads the reason and appeals, and
another moderator approves the appeal, after which the author is back on the home page."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from tests.browser.conftest import Site
from tests.browser.kit import new_context, serious_violations, sign_in
from tests.kit import User


def moderator(site: Site, prefix: str) -> User:
    person = site.node.create_user(prefix)
    site.node.cli("user", "role", person.name, "moderator")
    return person


def test_report_suspend_appeal_and_approve(
    browser: Browser, site: Site, alice: User, bob: User
) -> None:
    node = site.node
    first, second = moderator(site, "modone"), moderator(site, "modtwo")
    posted = node.api(alice, "POST", "/api/v1/statuses", data={"status": "Buy my crypto coin"})
    post_path = f"/@{alice.name}/{posted.json()['id']}"

    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, node, bob)
        page.goto(node.url + post_path)
        page.get_by_role("link", name="Report").first.click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Report a post")
        page.get_by_label("Category").select_option("spam")
        page.get_by_label("Comment for the moderators").fill("Advertising in the company feed")
        page.get_by_role("button", name="Send report").click()
        expect(page.get_by_role("status")).to_contain_text("the moderators have your report")

    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, node, first)
        page.goto(node.url + "/admin/reports")
        page.get_by_role("link", name=alice.name).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Report about {alice.name}")
        expect(page.locator(".report-comment")).to_have_text("Advertising in the company feed")
        assert serious_violations(page) == []
        page.get_by_label("Action", exact=True).select_option("suspend")
        page.get_by_label("Reason (the person reads it)").fill("Advertising is not allowed")
        page.get_by_role("button", name="Take action").click()
        expect(page.get_by_role("status")).to_contain_text("the person told why")
        expect(page.locator(".state")).to_have_text("Resolved")

    with new_context(browser) as context:
        page = context.new_page()
        page.goto(node.url + "/")
        page.locator("#login").fill(alice.name)
        page.locator("#password").fill(alice.password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(node.url + "/settings/moderation")
        expect(page.locator(".reason")).to_have_text("Advertising is not allowed")
        page.get_by_label("Appeal: why should this decision be reconsidered?").fill(
            "It was a joke among friends"
        )
        page.get_by_role("button", name="Send appeal").click()
        expect(page.locator(".state")).to_have_text("Appeal pending")
        page.goto(node.url + "/")
        expect(page.get_by_role("heading", level=1)).to_have_text("Account suspended")

        with new_context(browser) as mods:
            other = mods.new_page()
            sign_in(other, node, second)
            other.goto(node.url + "/admin/reports")
            other.get_by_role("button", name=f"Approve appeal: {alice.name}").click()
            expect(other.get_by_role("status")).to_contain_text("the action is lifted")

        page.goto(node.url + "/")
        expect(page.get_by_role("heading", level=1)).to_have_text("Home")
