"""What admins and moderators do in the browser: users, the allowlist with its audit log, the
node's description — and that nobody else gets in."""

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


def test_a_suspended_user_sees_the_reason_instead_of_home(
    browser: Browser, site: Site, admin: User, bob: User
) -> None:
    with new_context(browser) as admin_context, new_context(browser) as bob_context:
        bobs_page = bob_context.new_page()
        sign_in(bobs_page, site.node, bob)
        page = admin_context.new_page()
        sign_in(page, site.node, admin)
        page.get_by_role("link", name="Administration").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Users")
        page.get_by_label("Find users by name or e-mail").fill(bob.name)
        page.get_by_role("button", name="Find").click()
        row = page.locator("li.user-row", has_text=bob.name)
        row.get_by_label(f"Reason for suspending {bob.name}").fill("Shared customer data")
        row.get_by_role("button", name="Suspend").click()
        expect(page.get_by_role("status")).to_contain_text(f"{bob.name} is suspended")
        expect(row.locator(".state")).to_have_text("suspended")

        bobs_page.goto(site.node.url + "/")  # the reason, not home
        expect(bobs_page.get_by_role("heading", level=1)).to_have_text("Account suspended")
        expect(bobs_page.get_by_role("alert")).to_contain_text("Shared customer data")

        row.get_by_role("button", name="Unsuspend").click()
        expect(row.locator(".state")).to_have_text("active")
        bobs_page.goto(site.node.url + "/")
        expect(bobs_page.get_by_role("heading", level=1)).to_have_text("Home")


def test_a_user_switched_off_by_the_directory_shows_so(
    browser: Browser, site: Site, admin: User
) -> None:
    leaver = site.node.create_user(f"leaver{secrets.token_hex(3)}")
    site.node.cli("user", "disable", leaver.name)
    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, site.node, admin)
        page.goto(site.node.url + "/admin/users?q=" + leaver.name)
        row = page.locator("li.user-row", has_text=leaver.name)
        expect(row.locator(".state")).to_have_text("switched off")


def test_an_admin_creates_a_colleague_who_signs_in_with_the_password_shown_once(
    browser: Browser, site: Site, admin: User
) -> None:
    name = f"carla{secrets.token_hex(3)}"
    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, site.node, admin)
        page.goto(site.node.url + "/admin/users")
        page.get_by_label("User name", exact=True).fill(name)
        page.get_by_label("E-mail", exact=True).fill(f"{name}@example.com")
        page.get_by_role("button", name="Create").click()
        expect(page.get_by_role("status")).to_contain_text(f"{name} was created")
        password = page.locator("#one-time-password").inner_text().strip()
        page.goto(site.node.url + "/admin/users")
        expect(page.locator("#one-time-password")).to_have_count(0)  # shown once only
    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, site.node, User(name, password, f"{name}@example.com", ""))
        expect(page.get_by_role("heading", level=1)).to_have_text("Home")


def test_allowlist_changes_show_in_the_audit_log_with_the_admins_name(
    browser: Browser, site: Site, admin: User
) -> None:
    pattern = f"branch-{secrets.token_hex(3)}.example.com"
    with new_context(browser) as context:
        page = context.new_page()
        accept_dialogs(page)
        sign_in(page, site.node, admin)
        page.goto(site.node.url + "/admin/federation")
        page.get_by_label("Node or pattern").fill(pattern)
        page.get_by_role("button", name="Add", exact=True).click()
        allowlist = page.locator("ul.allowlist")
        expect(allowlist).to_contain_text(pattern)
        assert pattern in site.node.cli("allowlist", "list").stdout

        allowlist.get_by_role("button", name=f"Remove {pattern}").click()
        expect(allowlist).not_to_contain_text(pattern)
        assert pattern not in site.node.cli("allowlist", "list").stdout

        entries = page.locator("li.audit-entry", has_text=pattern)
        expect(entries).to_have_count(2)
        expect(entries.nth(0)).to_contain_text(f"{admin.name} allowlist.remove {pattern}")
        expect(entries.nth(1)).to_contain_text(f"{admin.name} allowlist.add {pattern}")
        screenshot(page, "admin-federation")


def test_others_get_the_403_page(browser: Browser, site: Site, alice: User) -> None:
    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, site.node, alice)
        expect(page.get_by_role("link", name="Administration")).to_have_count(0)
        for path in ("/admin/users", "/admin/federation", "/admin/node"):
            answer = page.goto(site.node.url + path)
            assert answer is not None
            assert answer.status == 403
            expect(page.get_by_role("alert")).to_have_text("This page is for administrators.")


def test_the_node_description_and_rules(browser: Browser, site: Site, admin: User) -> None:
    rule = f"Be kind to the interns {secrets.token_hex(3)}"
    with new_context(browser) as context:
        page = context.new_page()
        accept_dialogs(page)
        sign_in(page, site.node, admin)
        page.goto(site.node.url + "/admin/node")
        page.get_by_label("Name", exact=True).fill("HQ Flurfunk")
        page.get_by_label("Contact e-mail").fill("it@example.com")
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_role("status")).to_have_text("Saved.")
        page.get_by_label("New rule").fill(rule)
        page.get_by_role("button", name="Add", exact=True).click()
        expect(page.locator("ol.rules")).to_contain_text(rule)
        instance = site.node.api(admin, "GET", "/api/v1/instance").json()
        assert instance["title"] == "HQ Flurfunk"
        assert rule in [r["text"] for r in instance["rules"]]
        page.locator("li.rule", has_text=rule).get_by_role("button", name="Remove").click()
        expect(page.locator("ol.rules")).not_to_contain_text(rule)
        page.get_by_label("Name", exact=True).fill("")  # the other tests' node stays as it was
        page.get_by_label("Contact e-mail").fill("")
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_role("status")).to_have_text("Saved.")


def test_admin_pages_in_german_and_accessible(browser: Browser, site: Site, admin: User) -> None:
    with new_context(browser, language="de-DE") as context:
        page = context.new_page()
        sign_in(page, site.node, admin, button="Anmelden")
        page.goto(site.node.url + "/admin/users")
        expect(page.get_by_role("button", name="Sperren").first).to_be_visible()
        page.goto(site.node.url + "/admin/federation")
        expect(page.get_by_role("button", name="Hinzufügen")).to_be_visible()
        expect(page.get_by_role("heading", name="Partnerknoten")).to_be_visible()
        expect(page.get_by_role("heading", name="Gescheiterte Zustellungen")).to_be_visible()
        page.goto(site.node.url + "/admin/users")
        expect(page.get_by_role("group", name="Erste Anmeldung")).to_be_visible()
        expect(page.get_by_label("Einladungslink", exact=False)).to_be_visible()
        page.goto(site.node.url + "/admin/node")
        expect(page.get_by_role("button", name="Speichern")).to_be_visible()
    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, site.node, admin)
        for path in ("/admin/users", "/admin/federation", "/admin/node"):
            page.goto(site.node.url + path)
            violations = serious_violations(page)
            assert violations == [], f"{path}:\n" + "\n".join(violations)
            screenshot(page, "admin-" + path.rsplit("/", 1)[-1])


def test_a_password_reset_shows_the_new_one_once_and_ends_the_old_sign_in(
    browser: Browser, site: Site, admin: User, bob: User
) -> None:
    with new_context(browser) as admin_context, new_context(browser) as bob_context:
        bobs_page = bob_context.new_page()
        sign_in(bobs_page, site.node, bob)
        page = admin_context.new_page()
        accept_dialogs(page)
        sign_in(page, site.node, admin)
        page.goto(f"{site.node.url}/admin/users?q={bob.name}")
        page.get_by_role("button", name=f"Reset the password of {bob.name}").click()
        expect(page.get_by_role("status")).to_contain_text(f"New password for {bob.name}")
        password = page.locator("#one-time-password").inner_text().strip()
        bobs_page.goto(site.node.url + "/")
        expect(bobs_page.locator("#login")).to_be_visible()
        sign_in(bobs_page, site.node, User(bob.name, password, bob.email, ""))
        expect(bobs_page.get_by_role("heading", level=1)).to_have_text("Home")


def test_an_admin_deletes_a_user_after_confirming(
    browser: Browser, site: Site, admin: User, bob: User
) -> None:
    with new_context(browser) as context:
        page = context.new_page()
        asked: list[str] = []

        def confirm(dialog: Dialog) -> None:
            asked.append(dialog.message)
            dialog.accept()

        page.on("dialog", confirm)
        sign_in(page, site.node, admin)
        page.goto(f"{site.node.url}/admin/users?q={bob.name}")
        page.get_by_role("button", name=f"Delete {bob.name}").click()
        expect(page.get_by_role("status")).to_have_text(f"{bob.name} was deleted.")
        assert len(asked) == 1
        assert bob.name in asked[0]
        expect(page.locator("li.user-row", has_text=bob.name)).to_have_count(0)
    assert site.node.api(bob, "GET", "/api/v1/accounts/verify_credentials").status_code == 401


def test_a_moderator_suspends_plain_users_but_changes_nothing_else(
    browser: Browser, site: Site, admin: User, alice: User
) -> None:
    moderator = site.node.create_user("mod")
    site.node.cli("user", "role", moderator.name, "moderator")
    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, site.node, moderator)
        page.goto(f"{site.node.url}/admin/users?q={alice.name}")
        row = page.locator("li.user-row", has_text=alice.name)
        row.get_by_role("button", name="Suspend").click()
        expect(row.locator(".state")).to_have_text("suspended")
        row.get_by_role("button", name="Unsuspend").click()
        expect(row.locator(".state")).to_have_text("active")
        expect(page.get_by_role("button", name="Create")).to_have_count(0)
        expect(row.get_by_role("button", name="Delete")).to_have_count(0)
        page.goto(f"{site.node.url}/admin/users?q={admin.name}")
        admins_row = page.locator("li.user-row", has_text=admin.name)
        expect(admins_row.get_by_role("button")).to_have_count(0)
        page.goto(site.node.url + "/admin/federation")
        expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
        expect(page.get_by_role("button", name="Add")).to_have_count(0)
        expect(page.locator("li.audit-entry").first).to_contain_text(
            f"{moderator.name} user.unsuspend {alice.name}"
        )
