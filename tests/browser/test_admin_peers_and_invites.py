"""What admins see of peer nodes (health table, 24-hour chart, retrying a failed delivery) and
invite links, in the browser, against a real node and a fake peer that answers what the test
tells it to (503, 400, 202)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import orjson
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.conftest import Site
from tests.browser.kit import PHONE, new_context, screenshot, sign_in
from tests.browser.test_staff_pages import assert_accessible, post_via_api
from tests.federation_kit import FakeActor, wait_for
from tests.kit import User

SHARED_INBOX = "/inbox"


def creates_received(site: Site, text: str) -> int:
    """How many times the peer's shared inbox was sent the Create of the post with `text`."""
    count = 0
    for received in list(site.peer.received):
        if received.method == "POST" and received.path == SHARED_INBOX and received.body:
            activity = orjson.loads(received.body)
            if activity.get("type") == "Create" and text in str(activity.get("object")):
                count += 1
    return count


@pytest.fixture
def followed(site: Site, alice: User) -> Iterator[FakeActor]:
    """A colleague on the peer follows alice, so her posts go to the peer's shared inbox."""
    actor = site.remote_actor("dora" + secrets.token_hex(2))
    alice_uri = f"{site.node.public_url}/users/{alice.name}"
    assert actor.post(site.node, actor.activity("Follow", alice_uri)).status_code == 202
    wait_for(
        lambda: site.node.api(alice, "GET", "/api/v1/accounts/verify_credentials").json()[
            "followers_count"
        ],
        "the remote follow accepted",
    )
    yield actor
    site.peer.answers.pop(SHARED_INBOX, None)


def peer_row(page: Page, site: Site) -> Locator:
    return page.locator(
        "table.peer-health tr", has=page.locator(f'th:text-is("{site.remote_host}")')
    )


def number(cell: Locator) -> int:
    return int((cell.text_content() or "").strip())  # also inside a closed <details>


def test_peer_health_shows_back_off_failures_and_a_retry_that_delivers(
    browser: Browser, site: Site, admin: User, alice: User, followed: FakeActor
) -> None:
    federation = site.node.url + "/admin/federation"
    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, site.node, admin)

        # The peer is down (503): the post waits with back-off, which the page shows.
        site.peer.answer(SHARED_INBOX, 503)
        slow = f"Canteen closes early {secrets.token_hex(3)}"
        post_via_api(site, alice, slow)
        wait_for(lambda: creates_received(site, slow), "the first attempt at the peer")

        def backing_off() -> bool:
            page.goto(federation)
            return "next retry" in peer_row(page, site).locator("td.backoff").inner_text()

        wait_for(backing_off, "the back-off on the admin page")
        assert number(peer_row(page, site).locator("td.pending")) >= 1
        screenshot(page, "admin-peers-backing-off")

        # The peer is back: the retry arrives on its own.
        site.peer.answers.pop(SHARED_INBOX)
        wait_for(lambda: creates_received(site, slow) >= 2, "the retry after the back-off")

        # The peer refuses (400): the delivery fails for good and waits for an admin.
        site.peer.answer(SHARED_INBOX, 400)
        refused = f"Parking rules changed {secrets.token_hex(3)}"
        post_via_api(site, alice, refused)
        wait_for(lambda: creates_received(site, refused), "the refused attempt")

        def failed_listed() -> bool:
            page.goto(federation)
            return page.locator("li.failed-delivery", has_text=site.remote_host).count() > 0

        wait_for(failed_listed, "the failed delivery on the admin page")
        row = peer_row(page, site)
        assert number(row.locator("td.failed")) >= 1
        assert number(row.locator("td.delivered-today")) >= 2  # the Accept and the retried post
        assert number(row.locator("td.failed-today")) >= 2  # the 503 and the 400
        expect(row.locator("td.backoff")).not_to_contain_text("next retry")

        chart = page.locator(f'figure.peer-chart[data-host="{site.remote_host}"]')
        svg = chart.locator("svg")
        expect(svg).to_have_attribute("role", "img")
        expect(svg.locator("title")).to_have_text(
            f"Deliveries to {site.remote_host} in the last 24 hours"
        )
        expect(svg.locator("desc")).to_contain_text("delivered")
        expect(svg.locator("rect.delivered")).not_to_have_count(0)
        expect(svg.locator("rect.failed")).not_to_have_count(0)
        hours = chart.locator("table.hours tbody tr")
        expect(hours).to_have_count(24)
        this_hour = hours.last.locator("td")
        assert number(this_hour.nth(0)) >= 2
        assert number(this_hour.nth(1)) >= 2
        assert_accessible(page)
        screenshot(page, "admin-peers-failed")
        page.set_viewport_size(PHONE)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert_accessible(page)  # the table scrolls on its own, reachable by keyboard
        screenshot(page, "admin-peers-phone")
        page.set_viewport_size({"width": 1280, "height": 800})

        # Scripts read the same numbers from the admin API.
        token = site.node.cli("user", "token", admin.name, "--scopes", "admin:read admin:write")
        scripted = User(admin.name, admin.password, admin.email, token.stdout.split()[-1])
        listed = site.node.api(scripted, "GET", "/api/v1/admin/peers")
        assert listed.status_code == 200
        peer = next(p for p in listed.json() if p["host"] == site.remote_host)
        assert peer["failed"] == number(row.locator("td.failed"))
        assert peer["delivered_24h"] == number(row.locator("td.delivered-today"))
        assert peer["failed_attempts_24h"] == number(row.locator("td.failed-today"))
        assert len(peer["hours"]) == 24

        # An admin retries it while the peer accepts again: it arrives, once more.
        site.peer.answers.pop(SHARED_INBOX)
        failed = page.locator("li.failed-delivery", has_text=site.remote_host).first
        delivery = failed.get_attribute("data-delivery")
        failed.get_by_role("button", name="Retry").click()
        expect(page.get_by_role("status")).to_have_text(
            f"The delivery to {site.remote_host} is queued again."
        )
        wait_for(lambda: creates_received(site, refused) >= 2, "the retried delivery")
        expect(page.locator("li.audit-entry", has_text="delivery.retry").first).to_contain_text(
            f"{admin.name} delivery.retry {site.remote_host}"
        )

        expect(page.locator(f'li.failed-delivery[data-delivery="{delivery}"]')).to_have_count(0)


def test_retrying_what_is_not_failed_changes_nothing(
    browser: Browser, site: Site, admin: User
) -> None:
    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, site.node, admin)
        page.goto(site.node.url + "/admin/federation")
        token = page.locator('input[name="csrf_token"]').first.get_attribute("value")
        for target in ("123", "not-a-number", "9" * 19):
            answer = page.request.post(
                f"{site.node.url}/admin/federation/deliveries/{target}/retry",
                form={"csrf_token": token or ""},
                headers={"Accept": "text/html"},
            )
            assert answer.status == 200  # the redirect back to the page, followed
            assert answer.url == site.node.url + "/admin/federation"
            assert "Nothing changed: that delivery is not waiting for a retry." in answer.text()
        forged = page.request.post(
            f"{site.node.url}/admin/federation/deliveries/123/retry",
            form={"csrf_token": "forged"},
            headers={"Accept": "text/html"},
        )
        assert forged.status == 403


def test_an_invited_colleague_chooses_a_password_and_the_link_works_once(
    browser: Browser, site: Site, admin: User
) -> None:
    name = f"ines{secrets.token_hex(3)}"
    password = "correct horse " + secrets.token_hex(4)
    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, site.node, admin)
        page.goto(site.node.url + "/admin/users")
        page.get_by_label("User name", exact=True).fill(name)
        page.get_by_label("Invite link").check()
        page.get_by_role("button", name="Create").click()
        expect(page.get_by_role("status")).to_contain_text(f"{name} was created")
        link = page.locator("#invite-link").inner_text().strip()
        assert link.startswith(site.node.public_url + "/auth/invite/")
        expect(page.locator("#one-time-password")).to_have_count(0)
        expect(page.locator("li.user-row", has_text=name)).to_be_visible()
        page.goto(site.node.url + "/admin/federation")
        expect(page.locator("li.audit-entry", has_text=name).first).to_contain_text(
            f"{admin.name} user.invite {name}"
        )
    path = link.removeprefix(site.node.public_url)

    with new_context(browser) as context:
        page = context.new_page()
        page.goto(site.node.url + path)
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Welcome, {name}")
        assert_accessible(page)
        screenshot(page, "invite")
        page.get_by_label("New password", exact=True).fill(password)
        page.get_by_label("Repeat the new password").fill(password + "x")
        page.get_by_role("button", name="Save and sign in").click()
        expect(page.get_by_role("alert")).to_have_text("The passwords do not match.")
        page.get_by_label("New password", exact=True).fill(password)
        page.get_by_label("Repeat the new password").fill(password)
        page.get_by_role("button", name="Save and sign in").click()
        page.wait_for_url(site.node.url + "/")
        expect(page.get_by_role("heading", level=1)).to_have_text("Home")
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    with new_context(browser) as context:
        page = context.new_page()
        answer = page.goto(site.node.url + path)
        assert answer is not None
        assert answer.status == 410
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "This invite link is no longer valid"
        )
        answer = page.goto(site.node.url + "/auth/invite/" + "x" * 43)
        assert answer is not None
        assert answer.status == 404
        expect(page.get_by_role("heading", level=1)).to_have_text("Unknown invite link")
        sign_in(page, site.node, User(name, password, "", ""))  # the password they chose
        expect(page.get_by_role("heading", level=1)).to_have_text("Home")


def test_an_invite_link_from_the_command_line_in_german(browser: Browser, site: Site) -> None:
    name = f"jonas{secrets.token_hex(3)}"
    result = site.node.cli("user", "invite", name, "--days", "2")
    link = result.stdout.strip().splitlines()[-1]
    assert link.startswith(site.node.public_url + "/auth/invite/")
    with new_context(browser, language="de-DE") as context:
        page = context.new_page()
        page.goto(link.replace(site.node.public_url, site.node.url))
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Willkommen, {name}")
        page.get_by_label("Neues Passwort", exact=True).fill("geheim-" + secrets.token_hex(4))
        page.get_by_label("Neues Passwort wiederholen").fill("anders-" + secrets.token_hex(4))
        page.get_by_role("button", name="Speichern und anmelden").click()
        expect(page.get_by_role("alert")).to_have_text("Die Passwörter stimmen nicht überein.")
