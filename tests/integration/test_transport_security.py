"""A node with an https PUBLIC_URL behind a TLS proxy (here: requests on loopback that say
X-Forwarded-Proto: https, as the proxy would). What reaches it over plain HTTP may not sign
in; every answer carries HSTS and the session cookie is Secure."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.kit import RunningNode, running_node

PUBLIC_URL = "https://hq.corp.example"
VIA_PROXY = {"X-Forwarded-Proto": "https"}


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNode]:
    with running_node(
        tmp_path_factory.mktemp("https"), "sqlite", FLURFUNK_PUBLIC_URL=PUBLIC_URL
    ) as running:
        yield running


def test_plain_http_sign_ins_are_refused(node: RunningNode) -> None:
    user = node.create_user("ada", via_cli=True)
    app = httpx.post(
        node.url + "/api/v1/apps",
        data={"client_name": "phone", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob"},
        headers=VIA_PROXY,
    ).json()
    grant = {
        "grant_type": "password",
        "username": user.email,
        "password": user.password,
        "client_id": app["client_id"],
        "client_secret": app["client_secret"],
        "scope": "read",
    }
    for path, form in (
        ("/oauth/token", grant),
        ("/auth/sign_in", {"username": user.name, "password": user.password}),
        ("/api/v1/accounts", {"username": "eve", "password": "pw-123456789"}),
    ):
        refused = httpx.post(node.url + path, data=form)
        assert refused.status_code == 403, path
        assert refused.json()["error"].startswith("Sign-ins need HTTPS: use " + PUBLIC_URL)
        assert "set-cookie" not in refused.headers
    # Through the TLS proxy the same sign-in works.
    token = httpx.post(node.url + "/oauth/token", data=grant, headers=VIA_PROXY)
    assert token.status_code == 200, token.text
    me = httpx.get(
        node.url + "/api/v1/accounts/verify_credentials",
        headers={"Authorization": f"Bearer {token.json()['access_token']}", **VIA_PROXY},
    )
    assert me.json()["username"] == user.name
    assert me.headers["strict-transport-security"] == "max-age=31536000"


def test_hsts_everywhere_and_a_secure_session_cookie(node: RunningNode) -> None:
    for path in ("/api/v1/instance", "/.well-known/nodeinfo", "/auth/sign_in", "/livez"):
        answer = httpx.get(node.url + path, headers=VIA_PROXY)
        assert answer.headers["strict-transport-security"] == "max-age=31536000", path
    page = httpx.get(node.url + "/auth/sign_in", headers=VIA_PROXY)
    cookie = page.headers["set-cookie"].lower()
    assert "flurfunk_session=" in cookie
    assert "; secure" in cookie
    assert "httponly" in cookie
