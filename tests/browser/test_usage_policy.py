"""The usage policy in the browser: posting before accepting shows the policy page with an
Accept button, posting works after accepting, a new version asks again (admins too), and the
admin page lists who has not accepted yet. Its own node: a policy gates the whole node."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.kit import new_context, screenshot, serious_violations, sign_in
from tests.kit import RunningNode, running_node

POLICY = """# Richtlinie

<script>document.title = "owned"</script>

- Be kind to colleagues.
- Keep customer data out of posts ([why](javascript:alert(1))).
"""


@pytest.fixture(scope="module")
def node(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNode]:
    with running_node(tmp_path_factory.mktemp("policy-browser"), "sqlite") as running:
        yield running


def publish(node: RunningNode, tmp: Path, text: str) -> None:
    file = tmp / f"policy-{secrets.token_hex(3)}.md"
    file.write_text(text, encoding="utf-8")
    node.cli("policy", "set", str(file))


def post(page: Page, node: RunningNode, text: str) -> None:
    page.goto(node.url + "/")
    page.get_by_label("What's new?").fill(text)
    page.get_by_role("button", name="Post").click()


def assert_accessible(page: Page) -> None:
    violations = serious_violations(page)
    assert violations == [], "\n".join(violations)


def test_posting_shows_the_policy_until_accepted(
    browser: Browser, node: RunningNode, tmp_path: Path
) -> None:
    anna = node.create_user("anna")
    publish(node, tmp_path, POLICY)
    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, node, anna)
        expect(page.get_by_role("link", name="Read the usage policy")).to_be_visible()
        text = f"Lunch at noon {secrets.token_hex(3)}"
        post(page, node, text)
        page.wait_for_url(node.url + "/policy")
        expect(page.get_by_role("heading", level=1)).to_have_text("Usage policy")
        expect(page.get_by_role("status")).to_contain_text("accept the usage policy")
        expect(page.locator(".policy-text li").first).to_have_text("Be kind to colleagues.")
        assert page.title() != "owned"
        assert page.locator(".policy-text script").count() == 0
        assert page.locator('.policy-text a[href^="javascript"]').count() == 0
        assert_accessible(page)
        screenshot(page, "policy-before-accepting")

        page.get_by_role("button", name="Accept").click()
        expect(page.get_by_role("status")).to_have_text("Thank you: you accepted the usage policy.")
        post(page, node, text)
        expect(page.locator("article.status").first).to_contain_text(text)
        expect(page.get_by_role("link", name="Read the usage policy")).to_have_count(0)

        page.goto(node.url + "/policy")
        expect(page.get_by_role("button", name="Accept")).to_have_count(0)
        expect(page.locator("main")).to_contain_text("You accepted this version on")

        publish(node, tmp_path, POLICY + "- Be on time.\n")
        post(page, node, "after the new version")
        page.wait_for_url(node.url + "/policy")
        expect(page.locator(".policy-text")).to_contain_text("Be on time.")
        expect(page.get_by_role("button", name="Accept")).to_be_visible()


def test_german_accept_button(browser: Browser, node: RunningNode, tmp_path: Path) -> None:
    publish(node, tmp_path, POLICY)
    berta = node.create_user("berta")
    with new_context(browser, language="de-DE") as context:
        page = context.new_page()
        sign_in(page, node, berta, button="Anmelden")
        page.goto(node.url + "/policy")
        expect(page.get_by_role("heading", level=1)).to_have_text("Nutzungsrichtlinie")
        expect(page.get_by_role("button", name="Akzeptieren")).to_be_visible()
        assert_accessible(page)


def test_admin_sees_who_has_not_accepted_and_publishes(
    browser: Browser, node: RunningNode, tmp_path: Path
) -> None:
    publish(node, tmp_path, POLICY)
    waiting = node.create_user("waiting")
    boss = node.create_user("boss")
    node.cli("user", "role", boss.name, "admin")
    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, node, boss)
        page.goto(node.url + "/admin/policy")
        row = page.locator("tr", has_text=waiting.name)
        expect(row).to_contain_text("not yet")
        expect(page.get_by_role("link", name="Download as CSV")).to_have_attribute(
            "href", "/admin/policy.csv"
        )
        assert_accessible(page)
        screenshot(page, "admin-policy")

        page.get_by_label("Policy text").fill("- Only one rule now.\n")
        page.get_by_role("button", name="Publish", exact=True).click()
        expect(page.get_by_role("status")).to_contain_text("published.")
        # Admins accept like everyone else.
        post(page, node, "the admin's post")
        page.wait_for_url(node.url + "/policy")
        expect(page.locator(".policy-text")).to_have_text("Only one rule now.")
