"""Signing in with the company account in the browser: the sign-in page's link leads to a
real OpenID provider on loopback and back to the node, signed in; an app's authorization
request comes back to its consent page afterwards; a refused sign-in says why."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mastodon import Mastodon
from playwright.sync_api import Browser, Page, expect

from tests.browser.kit import new_context, screenshot, serious_violations
from tests.kit import RunningNode, running_node
from tests.oidc_kit import Provider, new_person, provider_in_thread


@pytest.fixture(scope="module")
def provider(chromium: str) -> Iterator[Provider]:
    with provider_in_thread() as found:
        yield found


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, provider: Provider) -> Iterator[RunningNode]:
    tmp: Path = tmp_path_factory.mktemp("browser-sign-on")
    with running_node(tmp, "sqlite", **provider.node_env()) as found:
        yield found


def authorize_as(page: Page, sub: str) -> None:
    """On the provider's page: type the subject and press Authorize, as a person would."""
    page.locator("input[name=sub]").fill(sub)
    page.get_by_role("button", name="Authorize", exact=True).click()


def test_sign_in_with_the_company_account(
    browser: Browser, node: RunningNode, provider: Provider
) -> None:
    sub, name = new_person(provider, name="Greta Grün", groups=["moderators"])
    with new_context(browser, "de-DE") as context:
        page = context.new_page()
        page.goto(node.url + "/auth/sign_in")
        assert serious_violations(page) == []
        page.get_by_role("link", name="Mit dem Firmenkonto anmelden").click()
        assert page.url.startswith(provider.url + "/oauth2/authorize?")
        authorize_as(page, sub)
        page.wait_for_url(node.url + "/")
        expect(page.get_by_role("button", name="Abmelden")).to_be_visible()
        page.goto(f"{node.url}/@{name}")
        expect(page.locator("main")).to_contain_text("Greta Grün")
        screenshot(page, "sign-on-signed-in")


def test_an_app_authorization_comes_back_after_the_company_sign_in(
    browser: Browser, node: RunningNode, provider: Provider
) -> None:
    sub, name = new_person(provider)
    client_id, secret = Mastodon.create_app("Phone app", scopes=["read"], api_base_url=node.url)
    api = Mastodon(client_id=client_id, client_secret=secret, api_base_url=node.url)
    url = api.auth_request_url(scopes=["read"], allow_http=True)
    with new_context(browser) as context:
        page = context.new_page()
        page.goto(url)
        page.get_by_role("link", name="Sign in with your company account").click()
        authorize_as(page, sub)
        expect(page.get_by_role("heading", name="Authorize Phone app?")).to_be_visible()
        expect(page.locator("main")).to_contain_text(f"@{name}")
        page.get_by_role("button", name="Authorize", exact=True).click()
        code = page.locator("#authorization-code").inner_text().strip()
    api.log_in(code=code, scopes=["read"], allow_http=True)
    assert api.account_verify_credentials()["username"] == name


def test_a_refused_sign_in_says_why(
    browser: Browser, node: RunningNode, provider: Provider
) -> None:
    sub, _ = new_person(provider)
    provider.tampering.mode = "signature"
    try:
        with new_context(browser) as context:
            page = context.new_page()
            page.goto(node.url + "/auth/sign_in")
            page.get_by_role("link", name="Sign in with your company account").click()
            authorize_as(page, sub)
            expect(page.get_by_role("heading")).to_have_text(
                "Signing in with your company account failed"
            )
            expect(page.get_by_role("alert")).to_contain_text("signature does not match")
            assert serious_violations(page) == []
            page.goto(node.url + "/")
            expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    finally:
        provider.tampering.mode = None
