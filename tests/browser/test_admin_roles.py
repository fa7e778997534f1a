"""Roles in the browser: an admin creates a role with permission checkboxes and gives it to a
colleague, who can then do exactly what it permits — and is told which permission the rest
needs. The page reads in German and passes axe."""

from __future__ import annotations

import secrets

from playwright.sync_api import Browser, Dialog, Page, expect

from tests.browser.conftest import Site
from tests.browser.kit import new_context, screenshot, serious_violations, sign_in
from tests.kit import User


def accept_dialogs(page: Page) -> None:
    def accept(dialog: Dialog) -> None:
        dialog.accept()

    page.on("dialog", accept)


def test_a_custom_role_opens_the_allowlist_and_nothing_else(
    browser: Browser, site: Site, admin: User
) -> None:
    name = f"fed-{secrets.token_hex(3)}"
    keeper = site.node.create_user("keeper")
    with new_context(browser) as context:
        page = context.new_page()
        accept_dialogs(page)
        sign_in(page, site.node, admin)
        page.goto(site.node.url + "/admin/roles")
        page.get_by_label("Name").fill(name)
        page.get_by_label("Manage the allowlist").check()
        page.get_by_role("button", name="Create role").click()
        expect(page.get_by_role("status")).to_have_text(f"The role {name} was created.")
        row = page.locator("li.role-row", has_text=name)
        expect(row.locator(".permissions")).to_have_text("Manage the allowlist")

        page.goto(f"{site.node.url}/admin/users?q={keeper.name}")
        keeper_row = page.locator("li.user-row", has_text=keeper.name)
        keeper_row.get_by_label(f"Role of {keeper.name}", exact=True).select_option(name)
        keeper_row.get_by_role("button", name=f"Change the role of {keeper.name}").click()
        expect(page.get_by_role("status")).to_have_text(f"{keeper.name} is now: {name}.")
        expect(keeper_row.locator(".role")).to_have_text(name)
        page.goto(site.node.url + "/admin/federation")
        expect(page.locator("li.audit-entry").first).to_contain_text(
            f"{admin.name} user.role {keeper.name}"
        )
        expect(page.locator("li.audit-entry", has_text=f"role.create {name}")).to_have_count(1)

    pattern = f"branch-{secrets.token_hex(3)}.example.com"
    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, site.node, keeper)
        page.get_by_role("link", name="Administration").click()
        expect(page).to_have_url(site.node.url + "/admin/federation")
        page.get_by_label("Node or pattern").fill(pattern)
        page.get_by_role("button", name="Add", exact=True).click()
        expect(page.locator("ul.allowlist")).to_contain_text(pattern)
        assert pattern in site.node.cli("allowlist", "list").stdout

        answer = page.goto(site.node.url + "/admin/users")
        assert answer is not None
        assert answer.status == 403
        expect(page.get_by_role("alert")).to_have_text(
            "This action requires the permission administer_users."
        )
        page.goto(site.node.url + "/admin/roles")
        expect(page.get_by_role("button", name="Create role")).to_have_count(0)
    site.node.cli("allowlist", "remove", pattern)

    with new_context(browser) as context:  # a role in use stays; once free, it goes
        page = context.new_page()
        accept_dialogs(page)
        sign_in(page, site.node, admin)
        page.goto(site.node.url + "/admin/roles")
        page.get_by_role("button", name=f"Delete the role {name}").click()
        expect(page.get_by_role("status")).to_contain_text("held by 1 account")
        site.node.cli("user", "role", keeper.name, "user")
        page.get_by_role("button", name=f"Delete the role {name}").click()
        expect(page.get_by_role("status")).to_have_text(f"The role {name} was deleted.")
        expect(page.locator("li.role-row", has_text=name)).to_have_count(0)


def test_the_roles_page_in_german_and_accessible(browser: Browser, site: Site, admin: User) -> None:
    with new_context(browser, language="de-DE") as context:
        page = context.new_page()
        sign_in(page, site.node, admin, button="Anmelden")
        page.goto(site.node.url + "/admin/roles")
        expect(page.get_by_role("heading", name="Rollen", exact=True)).to_be_visible()
        expect(page.get_by_label("Benutzer verwalten")).to_be_visible()
        expect(page.get_by_role("button", name="Rolle anlegen")).to_be_visible()
    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, site.node, admin)
        page.goto(site.node.url + "/admin/roles")
        violations = serious_violations(page)
        assert violations == [], "\n".join(violations)
        screenshot(page, "admin-roles")
