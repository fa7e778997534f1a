"""FLURFUNK_OIDC_ONLY=true: no password sign-in on the pages or through the password grant;
the company sign-in and the command line keep working."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from mastodon import Mastodon

from tests.integration.test_oauth import Forms
from tests.kit import RunningNode, running_node
from tests.oidc_kit import Provider, new_person, provider_in_thread, sign_on


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with provider_in_thread() as found:
        yield found


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, provider: Provider) -> Iterator[RunningNode]:
    tmp: Path = tmp_path_factory.mktemp("sign-on-only")
    env = provider.node_env(FLURFUNK_OIDC_ONLY="true")
    with running_node(tmp, "sqlite", **env) as found:
        yield found


def test_the_sign_in_page_offers_only_the_company_account(node: RunningNode) -> None:
    for path in ("/auth/sign_in", "/"):
        page = httpx.get(node.url + path, headers={"Accept-Language": "de"})
        assert page.status_code == 200
        assert "Mit dem Firmenkonto anmelden" in page.text
        assert 'name="password"' not in page.text


def test_password_sign_in_is_refused(node: RunningNode) -> None:
    name, password = "cliadmin", "pw-" + "k" * 20
    node.cli("user", "create", name, "--password", password, "--role", "admin")
    with httpx.Client() as browser:
        browser.get(node.url + "/auth/sign_in")
        answer = browser.post(
            node.url + "/auth/sign_in", data={"login": name, "password": password, "next": "/"}
        )
        assert answer.status_code == 403
        assert "Password sign-in is turned off" in answer.text
        assert browser.get(node.url + "/settings").status_code != 200
    app = httpx.post(
        node.url + "/api/v1/apps",
        data={
            "client_name": "pw app",
            "redirect_uris": "urn:ietf:wg:oauth:2.0:oob",
            "scopes": "read write",
        },
    ).json()
    grant = httpx.post(
        node.url + "/oauth/token",
        data={
            "grant_type": "password",
            "username": name,
            "password": password,
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
        },
    )
    assert grant.status_code == 403
    assert "company account" in grant.json()["error_description"]
    # Nor does signing up through the app API make a password account (registrations are open
    # on test nodes).
    app_token = httpx.post(
        node.url + "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "scope": "read write",
        },
    ).json()["access_token"]
    signup = httpx.post(
        node.url + "/api/v1/accounts",
        headers={"Authorization": f"Bearer {app_token}"},
        data={
            "username": "newbie",
            "email": "newbie@corp.example",
            "password": password,
            "agreement": "true",
        },
    )
    assert signup.status_code == 403
    assert "company sign-in" in signup.json()["error"]
    assert "newbie" not in node.cli("user", "list").stdout
    # The command line still administers the node.
    token = node.cli("user", "token", name).stdout.strip().splitlines()[-1]
    me = httpx.get(
        node.url + "/api/v1/accounts/verify_credentials",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert me.status_code == 200
    assert me.json()["username"] == name


def test_company_sign_in_and_apps_work(node: RunningNode, provider: Provider) -> None:
    sub, name = new_person(provider, groups=["admins"])
    with httpx.Client() as browser:
        assert sign_on(browser, node.url, provider, sub).status_code == 303
        assert browser.get(node.url + "/settings").status_code == 200
        # An app's authorization request, with the session from the company sign-in.
        client_id, secret = Mastodon.create_app("only app", scopes=["read"], api_base_url=node.url)
        api = Mastodon(client_id=client_id, client_secret=secret, api_base_url=node.url)
        url = api.auth_request_url(scopes=["read"], allow_http=True)
        consent = browser.get(url)
        assert consent.status_code == 200
        fields = Forms(consent.text).forms["/oauth/authorize"]
        fields["decision"] = "approve"
        code = Forms(browser.post(node.url + "/oauth/authorize", data=fields).text).code
    assert code
    api.log_in(code=code, scopes=["read"], allow_http=True)
    me = api.account_verify_credentials()
    assert me["username"] == name
    assert me["role"]["name"].lower() == "admin"
