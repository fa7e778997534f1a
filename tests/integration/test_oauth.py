"""OAuth2 as real apps use it: registration, every grant, the sign-in and consent pages."""

from __future__ import annotations

import base64
import hashlib
import secrets
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from mastodon import Mastodon, MastodonIllegalArgumentError

from tests.kit import RunningNode, User

OOB = "urn:ietf:wg:oauth:2.0:oob"
SCOPES = ["read", "write", "follow", "push"]


class Forms(HTMLParser):
    """The forms of a page: action -> {field name: value} (hidden and text inputs)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.forms: dict[str, dict[str, str]] = {}
        self._action: str | None = None
        self.code: str | None = None
        self._in_code = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._action = found.get("action", "")
            self.forms.setdefault(self._action, {})
        elif tag == "input" and self._action is not None and "name" in found:
            self.forms[self._action][found["name"]] = found.get("value", "")
        elif found.get("id") == "authorization-code":
            self._in_code = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._action = None
        self._in_code = False

    def handle_data(self, data: str) -> None:
        if self._in_code and data.strip():
            self.code = data.strip()


def register(
    node: RunningNode, redirect_uris: str | list[str] = OOB, scopes: str = "read write follow push"
) -> dict[str, str]:
    response = httpx.post(
        node.url + "/api/v1/apps",
        json={
            "client_name": "Test app " + secrets.token_hex(3),
            "redirect_uris": redirect_uris,
            "scopes": scopes,
            "website": "https://apps.example/test",
        },
    )
    assert response.status_code == 200, response.text
    app: dict[str, str] = response.json()
    return app


def sign_in(
    browser: httpx.Client, node: RunningNode, login: str, password: str, next_url: str = "/"
) -> httpx.Response:
    form_page = browser.get(node.url + "/auth/sign_in", params={"next": next_url})
    assert form_page.status_code == 200
    fields = Forms(form_page.text).forms["/auth/sign_in"]
    fields.update(login=login, password=password)
    return browser.post(node.url + "/auth/sign_in", data=fields)


def consent(
    browser: httpx.Client,
    node: RunningNode,
    user: User,
    authorize_url: str,
    decision: str = "approve",
) -> httpx.Response:
    """Open the authorize URL signed out, sign in, and press a consent button."""
    first = browser.get(authorize_url)
    assert first.status_code == 302
    location = first.headers["location"]
    assert location.startswith("/auth/sign_in?next=")
    next_url = parse_qs(urlsplit(location).query)["next"][0]
    signed = sign_in(browser, node, user.email, user.password, next_url)
    assert signed.status_code == 303
    page = browser.get(node.url + signed.headers["location"])
    assert page.status_code == 200
    assert user.name in page.text
    fields = Forms(page.text).forms["/oauth/authorize"]
    fields["decision"] = decision
    return browser.post(node.url + "/oauth/authorize", data=fields)


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def token_request(node: RunningNode, app: dict[str, str], **fields: str) -> httpx.Response:
    return httpx.post(
        node.url + "/oauth/token",
        data={
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            **fields,
        },
    )


def me(node: RunningNode, token: str) -> httpx.Response:
    return httpx.get(
        node.url + "/api/v1/apps/verify_credentials", headers={"Authorization": f"Bearer {token}"}
    )


# --- registration and discovery ---------------------------------------------------------


def test_registering_an_app_returns_its_credentials(node: RunningNode) -> None:
    client_id, client_secret = Mastodon.create_app(
        "Flurfunk test",
        scopes=SCOPES,
        redirect_uris=[OOB, "oauth2redirect://x"],
        website="https://apps.example",
        api_base_url=node.url,
    )
    assert len(client_id) == 43
    assert len(client_secret) == 43

    app = register(node, ["com.tapbots.Ivory.19300:/request_token", OOB], "read write")
    assert app["redirect_uris"] == ["com.tapbots.Ivory.19300:/request_token", OOB]
    assert app["redirect_uri"] == f"com.tapbots.Ivory.19300:/request_token\n{OOB}"
    assert app["scopes"] == ["read", "write"]
    assert app["client_secret_expires_at"] == 0
    assert app["website"] == "https://apps.example/test"
    assert app["id"].isdigit()
    assert app["vapid_key"]


def test_registration_defaults_to_read_and_accepts_a_query_string(node: RunningNode) -> None:
    response = httpx.post(
        node.url + "/api/v1/apps",
        params={
            "client_name": "Query app",
            "redirect_uris": "https://a.example/cb https://b.example/cb",
        },
    )
    assert response.status_code == 200
    assert response.json()["scopes"] == ["read"]
    assert response.json()["redirect_uris"] == ["https://a.example/cb", "https://b.example/cb"]


@pytest.mark.parametrize(
    ("fields", "complaint"),
    [
        ({"client_name": "x", "redirect_uris": OOB, "scopes": "read fly"}, "fly"),
        ({"redirect_uris": OOB}, "name"),
        ({"client_name": "x"}, "Redirect URI"),
        ({"client_name": "x", "redirect_uris": "javascript:alert(1)"}, "javascript"),
        ({"client_name": "x", "redirect_uris": "/relative"}, "absolute"),
        ({"client_name": "x", "redirect_uris": OOB, "website": "ftp://x"}, "Website"),
        ({"client_name": "x", "redirect_uris": OOB, "website": "http://[::1"}, "Website"),
        ({"client_name": "x", "redirect_uris": "http://[::1/cb"}, "Redirect URI"),
        ({"client_name": "x", "redirect_uris": "myapp://[::1/cb"}, "Redirect URI"),
    ],
)
def test_bad_registrations_are_refused(
    node: RunningNode, fields: dict[str, str], complaint: str
) -> None:
    response = httpx.post(node.url + "/api/v1/apps", data=fields)
    assert response.status_code == 422
    assert complaint in response.json()["error"]


def test_discovery_names_public_url_whatever_the_host_header(node: RunningNode) -> None:
    response = httpx.get(
        node.url + "/.well-known/oauth-authorization-server",
        headers={"Host": "evil.example", "Origin": "https://web.example"},
    )
    assert response.status_code == 200
    info = response.json()
    assert info["issuer"] == node.url + "/"
    for key in (
        "authorization_endpoint",
        "token_endpoint",
        "revocation_endpoint",
        "app_registration_endpoint",
        "userinfo_endpoint",
    ):
        assert info[key].startswith(node.url + "/"), key
    assert set(info["grant_types_supported"]) >= {
        "authorization_code",
        "password",
        "client_credentials",
        "refresh_token",
    }
    assert info["code_challenge_methods_supported"] == ["S256"]
    assert info["response_types_supported"] == ["code"]
    assert {"read", "write", "follow", "push", "read:statuses"} <= set(info["scopes_supported"])
    assert response.headers["access-control-allow-origin"] == "*"


# --- password grant ---------------------------------------------------------------------


def test_mastodon_py_logs_in_with_email_and_password(node: RunningNode, alice: User) -> None:
    client_id, client_secret = Mastodon.create_app("pw app", scopes=SCOPES, api_base_url=node.url)
    api = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=node.url)
    token = api.log_in(
        username=alice.email, password=alice.password, scopes=SCOPES, allow_http=True
    )
    assert len(token) == 43
    assert api.account_verify_credentials()["username"] == alice.name
    assert api.app_verify_credentials()["name"] == "pw app"


def test_password_grant_accepts_the_user_name(node: RunningNode, alice: User) -> None:
    app = register(node)
    response = token_request(
        node,
        app,
        grant_type="password",
        username=alice.name.upper(),
        password=alice.password,
        scope="read:statuses write:media",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "read:statuses write:media"
    assert isinstance(body["created_at"], int)
    assert len(body["refresh_token"]) == 43
    assert response.headers["cache-control"] == "no-store"


def test_wrong_password_is_an_oauth_error(node: RunningNode, alice: User) -> None:
    app = register(node)
    response = token_request(
        node, app, grant_type="password", username=alice.email, password="not-" + alice.password
    )
    assert response.status_code in (400, 401)
    assert response.json()["error"] == "invalid_grant"
    assert response.json()["error_description"]

    api = Mastodon(
        client_id=app["client_id"], client_secret=app["client_secret"], api_base_url=node.url
    )
    with pytest.raises(MastodonIllegalArgumentError):
        api.log_in(username=alice.email, password="wrong", scopes=SCOPES, allow_http=True)


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        ({"client_id": "nope"}, 401, "invalid_client"),
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"scope": "read teleport"}, 400, "invalid_scope"),
        ({"scope": "admin:write"}, 400, "invalid_scope"),
        ({"grant_type": ""}, 400, "invalid_request"),
        ({"grant_type": "implicit"}, 400, "unsupported_grant_type"),
    ],
)
def test_token_endpoint_errors_are_oauth_shaped(
    node: RunningNode, alice: User, change: dict[str, str], status: int, error: str
) -> None:
    app = register(node)
    fields = {
        "client_id": app["client_id"],
        "client_secret": app["client_secret"],
        "grant_type": "password",
        "username": alice.email,
        "password": alice.password,
        "scope": "read",
        **change,
    }
    response = httpx.post(node.url + "/oauth/token", data=fields)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert "error_description" in response.json()


def test_client_may_authenticate_with_http_basic(node: RunningNode, alice: User) -> None:
    app = register(node)
    response = httpx.post(
        node.url + "/oauth/token",
        auth=(app["client_id"], app["client_secret"]),
        json={
            "grant_type": "password",
            "username": alice.email,
            "password": alice.password,
            "scope": "read write",
        },
    )
    assert response.status_code == 200
    assert response.json()["scope"] == "read write"


# --- client credentials, refresh, revoke --------------------------------------------------


def test_client_credentials_token_names_its_app(node: RunningNode) -> None:
    app = register(node)
    response = token_request(node, app, grant_type="client_credentials", scope="read write")
    assert response.status_code == 200
    body = response.json()
    assert "refresh_token" not in body
    assert body["scope"] == "read write"
    verified = me(node, body["access_token"])
    assert verified.status_code == 200
    assert verified.json()["name"] == app["name"]
    assert "client_secret" not in verified.json()
    # An app token acts for no user.
    user_only = httpx.get(
        node.url + "/api/v1/accounts/verify_credentials",
        headers={"Authorization": f"Bearer {body['access_token']}"},
    )
    assert user_only.status_code != 200


def test_refresh_rotates_the_token_pair(node: RunningNode, alice: User) -> None:
    app = register(node)
    first = token_request(
        node,
        app,
        grant_type="password",
        username=alice.email,
        password=alice.password,
        scope="read write",
    ).json()
    second = token_request(
        node, app, grant_type="refresh_token", refresh_token=first["refresh_token"]
    )
    assert second.status_code == 200
    fresh = second.json()
    assert fresh["scope"] == "read write"
    assert fresh["access_token"] != first["access_token"]
    assert fresh["refresh_token"] != first["refresh_token"]
    assert me(node, first["access_token"]).status_code == 401
    assert me(node, fresh["access_token"]).status_code == 200
    reused = token_request(
        node, app, grant_type="refresh_token", refresh_token=first["refresh_token"]
    )
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    other_app = register(node)
    stolen = token_request(
        node, other_app, grant_type="refresh_token", refresh_token=fresh["refresh_token"]
    )
    assert stolen.json()["error"] == "invalid_grant"


def test_revoked_token_stops_working(node: RunningNode, alice: User) -> None:
    client_id, client_secret = Mastodon.create_app("revoker", scopes=SCOPES, api_base_url=node.url)
    api = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=node.url)
    token = api.log_in(
        username=alice.email, password=alice.password, scopes=SCOPES, allow_http=True
    )
    assert me(node, token).status_code == 200
    api.revoke_access_token(allow_http=True)
    gone = me(node, token)
    assert gone.status_code == 401
    assert "error" in gone.json()
    # Revoking again, or an unknown token, is still a success.
    again = httpx.post(
        node.url + "/oauth/revoke",
        data={"client_id": client_id, "client_secret": client_secret, "token": token},
    )
    assert again.status_code == 200
    assert again.json() == {}


def test_an_app_cannot_revoke_another_apps_token(node: RunningNode, alice: User) -> None:
    owner, other = register(node), register(node)
    token = token_request(
        node, owner, grant_type="password", username=alice.email, password=alice.password
    ).json()["access_token"]
    response = httpx.post(
        node.url + "/oauth/revoke",
        data={
            "client_id": other["client_id"],
            "client_secret": other["client_secret"],
            "token": token,
        },
    )
    assert response.status_code == 403
    assert me(node, token).status_code == 200


# --- authorization code -------------------------------------------------------------------


def test_authorization_code_out_of_band(node: RunningNode, alice: User) -> None:
    client_id, client_secret = Mastodon.create_app("oob app", scopes=SCOPES, api_base_url=node.url)
    api = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=node.url)
    url = api.auth_request_url(scopes=SCOPES, allow_http=True)
    with httpx.Client() as browser:
        shown = consent(browser, node, alice, url)
    assert shown.status_code == 200
    code = Forms(shown.text).code
    assert code
    assert len(code) == 43
    token = api.log_in(code=code, scopes=SCOPES, allow_http=True)
    assert api.account_verify_credentials()["username"] == alice.name
    assert me(node, token).json()["name"] == "oob app"
    # A code works once.
    reused = httpx.post(
        node.url + "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": OOB,
            "client_id": client_id,
            "client_secret": client_secret,
        },
    )
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"


def test_custom_scheme_redirect_with_state_and_pkce(node: RunningNode, alice: User) -> None:
    redirect = "oauth2redirect://x"
    app = register(node, [redirect, "com.tapbots.Ivory.19300:/request_token"])
    verifier, challenge = pkce_pair()
    query = urlencode(
        {
            "client_id": app["client_id"],
            "redirect_uri": redirect,
            "response_type": "code",
            "scope": "read write",
            "state": "s t&ate",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    with httpx.Client() as browser:
        answer = consent(browser, node, alice, f"{node.url}/oauth/authorize/?{query}")
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith("oauth2redirect://x?")
    got = parse_qs(urlsplit(location).query)
    assert got["state"] == ["s t&ate"]
    code = got["code"][0]

    wrong = token_request(
        node,
        app,
        grant_type="authorization_code",
        code=code,
        redirect_uri=redirect,
        code_verifier=pkce_pair()[0],
    )
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"
    missing = token_request(
        node, app, grant_type="authorization_code", code=code, redirect_uri=redirect
    )
    assert missing.status_code == 400
    other_uri = token_request(
        node,
        app,
        grant_type="authorization_code",
        code=code,
        redirect_uri="com.tapbots.Ivory.19300:/request_token",
        code_verifier=verifier,
    )
    assert other_uri.status_code == 400
    right = token_request(
        node,
        app,
        grant_type="authorization_code",
        code=code,
        redirect_uri=redirect,
        code_verifier=verifier,
    )
    assert right.status_code == 200, right.text
    assert right.json()["scope"] == "read write"
    assert me(node, right.json()["access_token"]).status_code == 200


def test_ivory_style_redirect_receives_code(node: RunningNode, alice: User) -> None:
    redirect = "com.tapbots.Ivory.19300:/request_token"
    app = register(node, redirect)
    query = urlencode(
        {
            "client_id": app["client_id"],
            "redirect_uri": redirect,
            "response_type": "code",
            "scope": "read",
        }
    )
    with httpx.Client() as browser:
        answer = consent(browser, node, alice, f"{node.url}/oauth/authorize?{query}")
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith(redirect + "?code=")
    code = parse_qs(urlsplit(location).query)["code"][0]
    response = token_request(
        node, app, grant_type="authorization_code", code=code, redirect_uri=redirect
    )
    assert response.status_code == 200


def test_deny_redirects_with_access_denied(node: RunningNode, alice: User) -> None:
    redirect = "https://client.example/callback?keep=1"
    app = register(node, redirect)
    query = urlencode(
        {
            "client_id": app["client_id"],
            "redirect_uri": redirect,
            "response_type": "code",
            "scope": "read",
            "state": "xyz",
        }
    )
    with httpx.Client() as browser:
        answer = consent(
            browser, node, alice, f"{node.url}/oauth/authorize?{query}", decision="deny"
        )
    assert answer.status_code == 302
    got = parse_qs(urlsplit(answer.headers["location"]).query)
    assert got["error"] == ["access_denied"]
    assert got["state"] == ["xyz"]
    assert got["keep"] == ["1"]
    assert "code" not in got


def test_authorize_refuses_bad_requests(node: RunningNode, alice: User) -> None:
    redirect = "https://client.example/cb"
    app = register(node, redirect, scopes="read")
    html = {"Accept": "text/html"}
    with httpx.Client() as browser:
        assert sign_in(browser, node, alice.name, alice.password).status_code == 303
        unknown_client = browser.get(
            node.url + "/oauth/authorize",
            headers=html,
            params={"client_id": "nope", "redirect_uri": redirect, "response_type": "code"},
        )
        assert unknown_client.status_code == 400
        assert "<h1>" in unknown_client.text
        foreign_uri = browser.get(
            node.url + "/oauth/authorize",
            params={
                "client_id": app["client_id"],
                "redirect_uri": "https://evil.example/cb",
                "response_type": "code",
            },
        )
        assert foreign_uri.status_code == 400
        assert foreign_uri.json()["error"] == "invalid_redirect_uri"
        too_much = browser.get(
            node.url + "/oauth/authorize",
            params={
                "client_id": app["client_id"],
                "redirect_uri": redirect,
                "response_type": "code",
                "scope": "read write",
                "state": "q",
            },
        )
        assert too_much.status_code == 302
        got = parse_qs(urlsplit(too_much.headers["location"]).query)
        assert got["error"] == ["invalid_scope"]
        assert got["state"] == ["q"]
        plain = browser.get(
            node.url + "/oauth/authorize",
            params={
                "client_id": app["client_id"],
                "redirect_uri": redirect,
                "response_type": "code",
                "code_challenge": "a" * 43,
                "code_challenge_method": "plain",
            },
        )
        assert parse_qs(urlsplit(plain.headers["location"]).query)["error"] == ["invalid_request"]


def test_consent_without_the_session_token_is_refused(node: RunningNode, alice: User) -> None:
    app = register(node)
    with httpx.Client() as browser:
        sign_in(browser, node, alice.email, alice.password)
        forged = browser.post(
            node.url + "/oauth/authorize",
            data={
                "client_id": app["client_id"],
                "redirect_uri": OOB,
                "response_type": "code",
                "scope": "read",
                "decision": "approve",
                "csrf_token": "forged",
            },
        )
    assert forged.status_code == 403
    assert 'id="authorization-code"' not in forged.text


# --- the pages ----------------------------------------------------------------------------


def test_start_page_links_to_sign_in_and_shows_who_is_signed_in(
    node: RunningNode, alice: User
) -> None:
    with httpx.Client() as browser:
        start = browser.get(node.url + "/")
        assert start.status_code == 200
        assert 'href="/auth/sign_in"' in start.text
        signed = sign_in(browser, node, alice.email, alice.password)
        assert signed.status_code == 303
        assert signed.headers["location"] == "/"
        home = browser.get(node.url + "/")
        assert alice.name in home.text
        assert 'href="/auth/sign_in"' not in home.text
        fields = Forms(home.text).forms["/auth/sign_out"]
        out = browser.post(node.url + "/auth/sign_out", data=fields)
        assert out.status_code == 303
        assert 'href="/auth/sign_in"' in browser.get(node.url + "/").text


def test_wrong_password_shows_the_form_again_without_a_session(
    node: RunningNode, alice: User
) -> None:
    with httpx.Client() as browser:
        answer = sign_in(browser, node, alice.email, "wrong password")
        assert answer.status_code == 401
        assert "password is wrong" in answer.text
        assert 'name="password"' in answer.text
        assert alice.email in answer.text  # the login is kept for a second try
        assert alice.name not in browser.get(node.url + "/").text


def test_sign_in_page_speaks_german_when_asked(node: RunningNode, alice: User) -> None:
    with httpx.Client(headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}) as browser:
        form = browser.get(node.url + "/auth/sign_in")
        assert 'lang="de"' in form.text
        assert "Passwort" in form.text
        wrong = sign_in(browser, node, alice.name, "falsch")
        assert "Passwort ist falsch" in wrong.text
    english = httpx.get(node.url + "/auth/sign_in", headers={"Accept-Language": "fr, en;q=0.4"})
    assert 'lang="en"' in english.text


def test_sign_in_without_form_token_is_refused(node: RunningNode, alice: User) -> None:
    with httpx.Client() as browser:
        response = browser.post(
            node.url + "/auth/sign_in", data={"login": alice.email, "password": alice.password}
        )
        assert response.status_code == 403
        assert alice.name not in browser.get(node.url + "/").text


def test_sign_in_never_redirects_to_another_site(node: RunningNode, alice: User) -> None:
    with httpx.Client() as browser:
        answer = sign_in(browser, node, alice.email, alice.password, "//evil.example/x")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"


def test_userinfo_describes_the_signed_in_account(node: RunningNode, alice: User) -> None:
    app = register(node)
    token = token_request(
        node,
        app,
        grant_type="password",
        username=alice.email,
        password=alice.password,
        scope="profile",
    ).json()["access_token"]
    info = httpx.get(node.url + "/oauth/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert info.status_code == 200
    assert info.json()["preferred_username"] == alice.name
    assert info.json()["sub"] == f"{node.url}/users/{alice.name}"
    assert httpx.get(node.url + "/oauth/userinfo").status_code == 401


def test_password_guessing_from_one_address_is_refused_for_a_while(
    node: RunningNode, alice: User
) -> None:
    """25 failed sign-ins from one address: that address is refused (even with the right
    password) with 429 and Retry-After; colleagues elsewhere sign in as before."""
    app = register(node)
    guesser = {"X-Forwarded-For": "10.66.0.1"}  # the node trusts its loopback proxy
    for n in range(25):
        failed = httpx.post(
            node.url + "/oauth/token",
            headers=guesser,
            data={
                "grant_type": "password",
                "client_id": app["client_id"],
                "client_secret": app["client_secret"],
                "username": f"nobody-{n}",
                "password": "guess",
            },
        )
        assert failed.status_code == 400, failed.text
    right = {
        "grant_type": "password",
        "client_id": app["client_id"],
        "client_secret": app["client_secret"],
        "username": alice.email,
        "password": alice.password,
    }
    refused = httpx.post(node.url + "/oauth/token", headers=guesser, data=right)
    assert refused.status_code == 429
    assert refused.json()["error"] == "Too many failed sign-ins"
    assert 0 < int(refused.headers["Retry-After"]) <= 300
    with httpx.Client(headers={**guesser, "Accept-Language": "de"}) as browser:
        page = sign_in(browser, node, alice.email, alice.password)
        assert page.status_code == 429
        assert "Zu viele fehlgeschlagene Anmeldungen" in page.text
        assert alice.name not in browser.get(node.url + "/").text
    elsewhere = httpx.post(
        node.url + "/oauth/token", headers={"X-Forwarded-For": "10.66.0.2"}, data=right
    )
    assert elsewhere.status_code == 200


def test_guessing_one_users_password_from_many_addresses_is_refused(node: RunningNode) -> None:
    target = node.create_user("guessed")
    other = node.create_user("unguessed")
    for n in range(25):
        with httpx.Client(headers={"X-Forwarded-For": f"10.67.0.{n + 1}"}) as browser:
            assert sign_in(browser, node, target.name, f"guess {n}").status_code == 401
    with httpx.Client(headers={"X-Forwarded-For": "10.67.1.1"}) as browser:
        held = sign_in(browser, node, target.name.upper(), target.password)
        assert held.status_code == 429
        assert "Too many failed sign-ins" in held.text
        assert 0 < int(held.headers["Retry-After"]) <= 3600
        assert sign_in(browser, node, other.name, other.password).status_code == 303
