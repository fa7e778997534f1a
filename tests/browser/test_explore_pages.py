"""Explore in the browser: what trends, the directory with its search, and the admin page
where trending items are hidden (with an audit-log entry) — readable and axe-clean, in English
and German."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from mastodon import Mastodon
from playwright.sync_api import Browser, expect

from tests.browser.kit import new_context, screenshot, serious_violations, sign_in
from tests.federation_kit import FedNode, Plan, network, post, wait_for
from tests.kit import User

LINK = "https://intranet.corp.example/townhall-agenda"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FedNode]:
    """A node of its own that computes trends every second, so that posts trend at once."""
    plans = {"hq": Plan(env={"FLURFUNK_TRENDS_INTERVAL": "1"})}
    with network(tmp_path_factory.mktemp("explore"), "sqlite", plans) as net:
        yield net["hq"]


@pytest.fixture(scope="module")
def people(node: FedNode) -> dict[str, User]:
    crew = {name: node.create_user(name) for name in ("alice", "bob", "carol")}
    invitation = post(node, crew["alice"], f"See you at the #townhall {LINK}")
    post(node, crew["bob"], f"#townhall questions go here {LINK}")
    Mastodon(access_token=crew["carol"].token, api_base_url=node.url).account_update_credentials(
        fields=[("Department", "Logistik"), ("Location", "Bremen")]
    )
    wait_for(
        lambda: [
            t
            for t in node.api(crew["alice"], "GET", "/api/v1/trends").json()
            if t["name"] == "townhall"
        ],
        "townhall trending",
    )
    wait_for(
        lambda: node.api(crew["alice"], "GET", "/api/v1/trends/links").json(), "a trending link"
    )
    for fan in ("bob", "carol"):
        node.api(crew[fan], "POST", f"/api/v1/statuses/{invitation['id']}/favourite")
    wait_for(
        lambda: node.api(crew["alice"], "GET", "/api/v1/trends/statuses").json(),
        "a popular post",
    )
    return crew


def test_explore_shows_trends_and_finds_colleagues_by_department(
    browser: Browser, node: FedNode, people: dict[str, User]
) -> None:
    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, node, people["alice"])
        page.get_by_role("link", name="Explore").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Explore")
        tags = page.locator("section", has=page.get_by_role("heading", name="Trending hashtags"))
        expect(tags.get_by_role("link", name="#townhall")).to_be_visible()
        expect(tags).to_contain_text("People: 2")
        links = page.locator("section", has=page.get_by_role("heading", name="Shared links"))
        expect(links.get_by_role("link", name=LINK)).to_be_visible()
        popular = page.locator("section", has=page.get_by_role("heading", name="Popular posts"))
        expect(popular).to_contain_text("See you at the")
        suggested = page.locator(
            "section", has=page.get_by_role("heading", name="Colleagues you might follow")
        )
        expect(suggested).to_contain_text(people["carol"].name)
        expect(suggested).not_to_contain_text(people["alice"].name)
        violations = serious_violations(page)
        assert violations == [], "\n".join(violations)
        screenshot(page, "explore")

        page.get_by_label("Name, department, location …").fill("logistik")
        page.get_by_role("button", name="Search", exact=True).last.click()
        listing = page.locator("section", has=page.get_by_role("heading", name="Directory"))
        found = listing.locator("li.account-card")
        expect(found).to_have_count(1)
        expect(found).to_contain_text(people["carol"].name)
    with new_context(browser, language="de-DE") as context:
        page = context.new_page()
        sign_in(page, node, people["bob"], button="Anmelden")
        page.get_by_role("link", name="Entdecken").click()
        expect(page.get_by_role("heading", name="Hashtags im Trend")).to_be_visible()
        expect(page.get_by_role("heading", name="Verzeichnis")).to_be_visible()
        violations = serious_violations(page)
        assert violations == [], "\n".join(violations)


def test_an_admin_hides_a_trending_hashtag_in_the_browser(
    browser: Browser, node: FedNode, people: dict[str, User]
) -> None:
    node.cli("user", "role", people["carol"].name, "admin")
    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, node, people["carol"])
        page.goto(node.url + "/admin/trends")
        expect(page.get_by_role("heading", level=1)).to_have_text("Trends")
        violations = serious_violations(page)
        assert violations == [], "\n".join(violations)
        screenshot(page, "admin-trends")
        page.get_by_role("button", name="Hide #townhall").click()
        expect(page.get_by_role("status")).to_contain_text("Hidden: it will not trend.")
        row = page.locator("tr", has=page.get_by_role("link", name="#townhall"))
        expect(row).to_contain_text("Hidden")
        expect(row.get_by_role("button", name="Approve #townhall")).to_be_visible()

        page.goto(node.url + "/admin/federation")
        entry = page.locator("li.audit-entry", has_text="trends.reject")
        expect(entry.first).to_contain_text("tag:townhall")
        expect(entry.first.locator(".operator")).to_have_text(people["carol"].name)

        page.goto(node.url + "/explore")
        tags = page.locator("section", has=page.get_by_role("heading", name="Trending hashtags"))
        expect(tags.get_by_role("link", name="#townhall")).to_have_count(0)
    # Plain users see no admin page.
    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, node, people["bob"])
        answer = page.goto(node.url + "/admin/trends")
        assert answer is not None
        assert answer.status == 403


def test_leaving_the_directory_from_the_settings_page(
    browser: Browser, node: FedNode, people: dict[str, User]
) -> None:
    bob = people["bob"]
    with new_context(browser) as context:
        page = context.new_page()
        sign_in(page, node, bob)
        page.goto(node.url + "/settings")
        listed = page.get_by_label("List me in the directory and suggest me to colleagues")
        expect(listed).to_be_checked()
        listed.uncheck()
        page.get_by_role("button", name="Save").first.click()
        expect(page.get_by_role("status")).to_have_text("Saved.")
        expect(listed).not_to_be_checked()
    directory = node.api(people["alice"], "GET", "/api/v1/directory", params={"limit": 80})
    assert bob.name not in [a["acct"] for a in directory.json()]
    suggested = node.api(people["alice"], "GET", "/api/v2/suggestions").json()
    assert bob.id not in [s["account"]["id"] for s in suggested]
