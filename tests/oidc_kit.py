"""A real OpenID provider on loopback for the sign-on tests: `oidc-provider-mock` (authlib's
provider in a Flask app) served by werkzeug in a thread, behind a small WSGI layer that can
misbehave on purpose — sign ID tokens with a key of its own (published next to the real
one) after changing a claim, or break their signature.

People are set with `provider.person(sub, claims)`; signing in means choosing the subject on
the provider's authorization form, as a person would type it in the browser.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import secrets
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, unquote, urljoin, urlsplit

import httpx
from joserfc import jwt
from joserfc.jwk import RSAKey

CLIENT_ID = "flurfunk-node"
CLIENT_SECRET = "s3cret-" + "x" * 20

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass
class Tampering:
    """What the provider does wrong to the ID tokens it issues (None: nothing)."""

    mode: str | None = None
    pkce: Pkce = field(default_factory=lambda: Pkce())
    key: RSAKey = field(
        default_factory=lambda: RSAKey.generate_key(2048, {"kid": "tampering"}, private=True)
    )

    def id_token(self, token: str) -> str:
        head, body, signature = token.split(".")
        if self.mode == "signature":
            raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
            raw[len(raw) // 2] ^= 0x01
            return f"{head}.{body}.{base64.urlsafe_b64encode(raw).rstrip(b'=').decode()}"
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        now = int(time.time())
        if self.mode == "issuer":
            claims["iss"] = "http://127.0.0.1:9/elsewhere"
        elif self.mode == "audience":
            claims["aud"] = "another-app"
        elif self.mode == "expired":
            claims.update(iat=now - 7200, exp=now - 3600)
        elif self.mode == "nonce":
            claims["nonce"] = "not-the-one-sent"
        header = {"alg": "RS256", "kid": self.key.kid}
        return jwt.encode(header, claims, self.key)

    def wrap(self, app: WSGIApp) -> WSGIApp:
        def tampered(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            path = environ.get("PATH_INFO", "")
            if path == "/oauth2/token":
                refused = self.pkce.check(environ)
                if refused is not None:
                    return _answer(start_response, "400 Bad Request", [], refused)
            if path not in ("/oauth2/token", "/jwks", "/oauth2/authorize"):
                return app(environ, start_response)
            seen: dict[str, Any] = {}

            def keep(status: str, headers: list[tuple[str, str]], exc: Any = None) -> Any:
                seen.update(status=status, headers=headers)
                return lambda _: None

            body = b"".join(app(environ, keep))
            if path == "/oauth2/authorize":
                self.pkce.issued(environ, dict(seen["headers"]).get("Location", ""))
            elif seen["status"].startswith("200"):
                data = json.loads(body)
                if path == "/jwks" and self.mode not in (None, "signature"):
                    data["keys"].append(self.key.as_dict(private=False))
                elif self.mode and "id_token" in data:
                    data["id_token"] = self.id_token(data["id_token"])
                body = json.dumps(data).encode()
            return _answer(start_response, seen["status"], seen["headers"], body)

        return tampered


def _answer(
    start_response: Callable[..., Any], status: str, headers: list[tuple[str, str]], body: bytes
) -> list[bytes]:
    kept = [(k, v) for k, v in headers if k.lower() != "content-length"]
    start_response(status, [*kept, ("Content-Length", str(len(body)))])
    return [body]


@dataclass
class Pkce:
    """RFC 7636 at the provider, which the mock leaves out: each code remembers the challenge
    of its authorization request, and the token request must bring the matching verifier."""

    challenges: dict[str, str] = field(default_factory=dict)
    verified: int = 0
    # (client id, secret) of each token request's HTTP Basic credentials, as the provider read them
    clients: list[tuple[str, str]] = field(default_factory=list)

    def issued(self, environ: dict[str, Any], location: str) -> None:
        asked = parse_qs(environ.get("QUERY_STRING", ""))
        code = parse_qs(urlsplit(location).query).get("code")
        if code and asked.get("code_challenge_method") == ["S256"]:
            self.challenges[code[0]] = asked["code_challenge"][0]

    def check(self, environ: dict[str, Any]) -> bytes | None:
        """None when the token request may go on (its body is put back for the provider)."""
        basic = environ.get("HTTP_AUTHORIZATION", "")
        if basic.startswith("Basic "):
            pair = base64.b64decode(basic[6:]).decode()
            client, _, secret = pair.partition(":")
            self.clients.append((unquote(client), unquote(secret)))
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)
        form = parse_qs(body.decode())
        challenge = self.challenges.get(form.get("code", [""])[0])
        if challenge is None:
            return None  # a code the provider will refuse anyway
        verifier = form.get("code_verifier", [""])[0]
        digest = hashlib.sha256(verifier.encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != challenge:
            return b'{"error": "invalid_grant", "error_description": "PKCE verifier mismatch"}'
        self.verified += 1
        return None


@dataclass
class Provider:
    url: str
    tampering: Tampering

    @property
    def issuer(self) -> str:
        return self.url

    def person(self, sub: str, **claims: Any) -> None:
        """Set what the provider says about `sub` (standard claims and `groups`)."""
        answer = httpx.put(f"{self.url}/users/{sub}", json=claims, timeout=10)
        assert answer.status_code == 204, answer.text

    def node_env(self, **extra: str) -> dict[str, str]:
        return {
            "FLURFUNK_OIDC_ISSUER": self.issuer,
            "FLURFUNK_OIDC_CLIENT_ID": CLIENT_ID,
            "FLURFUNK_OIDC_CLIENT_SECRET": CLIENT_SECRET,
            **extra,
        }


@contextlib.contextmanager
def provider_in_thread() -> Iterator[Provider]:
    """The provider on 127.0.0.1 (its issuer is the URL it is reached at)."""
    import werkzeug.serving
    from authlib.deprecate import AuthlibDeprecationWarning

    with warnings.catch_warnings():
        # The provider still imports authlib's older JOSE and httpx modules.
        warnings.simplefilter("ignore", AuthlibDeprecationWarning)
        from oidc_provider_mock import app as provider_app

    # authlib's provider refuses plain http unless told it is a test.
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"
    tampering = Tampering()
    server = werkzeug.serving.make_server(
        "127.0.0.1", 0, tampering.wrap(provider_app()), threaded=True
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield Provider(f"http://127.0.0.1:{server.server_port}", tampering)
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()


def new_person(provider: Provider, prefix: str = "staff", **claims: Any) -> tuple[str, str]:
    """A person at the provider with a fresh user name; returns (sub, user name)."""
    name = f"{prefix}{secrets.token_hex(3)}"
    sub = "sub-" + secrets.token_hex(6)
    claims.setdefault("preferred_username", name)
    claims.setdefault("name", name.title())
    claims.setdefault("email", f"{name}@corp.example")
    claims.setdefault("email_verified", True)
    provider.person(sub, **claims)
    return sub, name


class Links(HTMLParser):
    """The links and form actions of a page."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.hrefs: dict[str, str] = {}
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "a" and "id" in found:
            self.hrefs[found["id"]] = found.get("href", "")


def authorize_at_provider(browser: httpx.Client, provider_url: str, sub: str) -> str:
    """Press "Authorize" on the provider's form as `sub`; the node's callback URL."""
    form = browser.get(provider_url)
    assert form.status_code == 200, form.text
    answer = browser.post(provider_url, data={"sub": sub})
    assert answer.status_code == 302, answer.text
    callback = answer.headers["location"]
    assert "/auth/oidc/callback?" in callback
    return callback


def start_sign_on(browser: httpx.Client, node_url: str, next_url: str = "/") -> str:
    """Follow the sign-in page's company link; the provider's authorization URL."""
    page = browser.get(node_url + "/auth/sign_in", params={"next": next_url})
    assert page.status_code == 200
    link = Links(page.text).hrefs["sign-on"]
    started = browser.get(urljoin(node_url, link))
    assert started.status_code == 302, started.text
    return started.headers["location"]


def sign_on(
    browser: httpx.Client, node_url: str, provider: Provider, sub: str, next_url: str = "/"
) -> httpx.Response:
    """The whole browser round: the node's answer to the provider's redirect back."""
    at_provider = start_sign_on(browser, node_url, next_url)
    return browser.get(authorize_at_provider(browser, at_provider, sub))


def callback_params(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
