"""Staff create a group in the browser, a colleague asks to join, the owner approves on the
group page, and the new member posts into the group from its composer. The member count
reads "1 member" / "2 members" (German "1 Mitglied" / "2 Mitglieder")."""

from __future__ import annotations

import secrets

from playwright.sync_api import Browser, expect

from tests.browser.conftest import Site
from tests.browser.kit import new_context, serious_violations, sign_in


def test_a_members_only_group_in_the_browser(browser: Browser, site: Site) -> None:
    owner, colleague = site.node.create_user("gowner"), site.node.create_user("gmember")
    name = f"team{secrets.token_hex(3)}"
    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, site.node, owner)
        page.goto(site.node.url + "/groups")
        expect(page.get_by_role("heading", level=1)).to_have_text("Groups")
        page.get_by_label("Name (for the handle)").fill(name)
        page.get_by_label("Title").fill("Launch team")
        page.get_by_label("Who sees the posts").select_option("members")
        page.get_by_label("Who may join").select_option("approval")
        page.get_by_role("button", name="Create group").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Launch team")
        expect(page.locator(".group-members")).to_contain_text("owner")
        expect(page.locator("p.handle").first).to_contain_text("· 1 member")
        expect(page.locator("p.handle").first).not_to_contain_text("members")
        violations = serious_violations(page)
        assert violations == [], "\n".join(violations)

    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, site.node, colleague)
        page.goto(f"{site.node.url}/groups/{name}")
        page.get_by_role("button", name="Join group").click()
        expect(page.get_by_text("Your request to join is waiting for a moderator.")).to_be_visible()

    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, site.node, owner)
        page.goto(f"{site.node.url}/groups/{name}")
        page.get_by_role("button", name=f"Approve @{colleague.name}").click()
        expect(page.locator(".group-members")).to_contain_text(colleague.name)
        expect(page.locator("p.handle").first).to_contain_text("· 2 members")

    with new_context(browser, language="de-DE") as context:
        page = context.new_page()
        sign_in(page, site.node, colleague, button="Anmelden")
        page.goto(f"{site.node.url}/groups/{name}")
        expect(page.get_by_role("heading", name="In dieser Gruppe posten")).to_be_visible()
        expect(page.locator("p.handle").first).to_contain_text("· 2 Mitglieder")
        composer = page.locator("#compose-text")
        composer.fill(composer.input_value() + "Hallo Team")
        page.locator("#compose button[type=submit]:not([name=preview])").click()
        page.goto(f"{site.node.url}/groups/{name}")
        expect(page.locator("article.status", has_text="Hallo Team")).to_be_visible()


def test_a_new_group_counts_its_one_member_in_german(browser: Browser, site: Site) -> None:
    owner = site.node.create_user("gsolo")
    name = f"solo{secrets.token_hex(3)}"
    with new_context(browser, language="de-DE") as context:
        page = context.new_page()
        sign_in(page, site.node, owner, button="Anmelden")
        page.goto(site.node.url + "/groups")
        page.get_by_label("Name (für die Adresse)").fill(name)
        page.get_by_role("button", name="Gruppe anlegen").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(name)
        expect(page.locator("p.handle").first).to_contain_text("· 1 Mitglied")
        expect(page.locator("p.handle").first).not_to_contain_text("Mitglieder")
        page.goto(site.node.url + "/groups")
        mine = page.locator(".my-groups li", has_text=name)
        expect(mine).to_contain_text("· 1 Mitglied")
        expect(mine).not_to_contain_text("Mitglieder")
