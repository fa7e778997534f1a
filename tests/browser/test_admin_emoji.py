"""An admin manages the node's custom emoji in the browser, and posts show them as images."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests import emoji_kit
from tests.browser.conftest import Site
from tests.browser.kit import new_context, screenshot, serious_violations, sign_in
from tests.kit import User


@pytest.fixture
def admin(site: Site) -> User:
    user = site.node.create_user("emojiboss")
    site.node.cli("user", "role", user.name, "admin")
    return user


def test_an_admin_uploads_an_emoji_that_posts_then_show_and_removes_it(
    browser: Browser, site: Site, admin: User, tmp_path: Path
) -> None:
    code = f"wave_{secrets.token_hex(3)}"
    image = emoji_kit.write(tmp_path, "wave.png", emoji_kit.png("navy"))
    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, site.node, admin)
        page.goto(site.node.url + "/admin/emoji")
        expect(page.get_by_role("heading", level=1)).to_have_text("Custom emoji")
        page.get_by_label("Shortcode").fill(code)
        page.get_by_label("Category (optional)").fill("Greetings")
        page.get_by_label("Image").set_input_files(image)
        page.get_by_role("button", name="Add", exact=True).click()
        expect(page.get_by_role("status")).to_have_text(f":{code}: added.")
        entry = page.locator("li.emoji-entry", has_text=f":{code}:")
        expect(entry.get_by_role("img", name=f":{code}:")).to_be_visible()
        expect(entry).to_contain_text("Greetings")
        violations = serious_violations(page)
        assert violations == [], "\n".join(violations)
        screenshot(page, "admin-emoji")

        posted = site.node.api(
            admin, "POST", "/api/v1/statuses", json={"status": f"Hello :{code}: everyone"}
        ).json()
        page.goto(f"{site.node.url}/@{admin.name}/{posted['id']}")
        emoji = page.locator("article.status .content img.emoji")
        expect(emoji).to_have_attribute("alt", f":{code}:")
        assert page.evaluate("img => img.naturalWidth", emoji.element_handle()) == 32
        violations = serious_violations(page)
        assert violations == [], "\n".join(violations)

        page.goto(site.node.url + "/admin/emoji")
        entry.get_by_role("button", name=f"Remove :{code}:").click()
        expect(page.get_by_role("status")).to_have_text(f":{code}: removed.")
        expect(page.locator("li.emoji-entry", has_text=f":{code}:")).to_have_count(0)

        page.goto(site.node.url + "/admin/federation")  # the audit log names who did it
        for action in ("emoji.add", "emoji.remove"):
            expect(page.locator("body")).to_contain_text(action)
        expect(page.locator("body")).to_contain_text(admin.name)


def test_a_bad_upload_is_refused_with_its_reason_and_nothing_is_kept(
    browser: Browser, site: Site, admin: User, tmp_path: Path
) -> None:
    fake = emoji_kit.write(tmp_path, "fake.png", b"<script>alert(1)</script>")
    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, site.node, admin)
        page.goto(site.node.url + "/admin/emoji")
        page.get_by_label("Shortcode").fill("not_an_image")
        page.get_by_label("Image").set_input_files(fake)
        with page.expect_response(lambda r: r.url.endswith("/admin/emoji")) as answer:
            page.get_by_role("button", name="Add", exact=True).click()
        assert answer.value.status == 422
        expect(page.get_by_role("alert")).to_contain_text("not a PNG, GIF or WebP image")
        expect(page.locator("li.emoji-entry", has_text=":not_an_image:")).to_have_count(0)


def test_the_emoji_page_in_german(browser: Browser, site: Site, admin: User) -> None:
    with new_context(browser, language="de-DE") as context:
        page = context.new_page()
        sign_in(page, site.node, admin, button="Anmelden")
        page.goto(site.node.url + "/admin/emoji")
        expect(page.get_by_role("heading", level=1)).to_have_text("Eigene Emoji")
        expect(page.get_by_label("Kurzname")).to_be_visible()
        expect(page.get_by_role("button", name="Hinzufügen")).to_be_visible()
        violations = serious_violations(page)
        assert violations == [], "\n".join(violations)
