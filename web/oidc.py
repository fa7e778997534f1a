"""Single sign-on: the node as an OpenID Connect client of the company's identity provider.

Authorization code flow with PKCE (RFC 7636, S256) and a nonce, built from authlib's pieces;
the provider's endpoints come from its discovery document, whose `issuer` must be exactly
FLURFUNK_OIDC_ISSUER. Every request to the provider goes through the node's one outbound
client (federation.client) with the issuer's host as its only allowed host, so CONNECT_TO and
CA_BUNDLE apply as they do to peers. The ID token's signature is checked against the
provider's JWKS (fetched again once for an unknown key id), then its issuer, audience,
expiry, nonce and access-token hash (authlib's CodeIDToken).
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import orjson
from authlib.common.security import generate_token  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749.parameters import (  # type: ignore[import-untyped]
    prepare_grant_uri,
    prepare_token_request,
)
from authlib.oauth2.rfc7636 import create_s256_code_challenge  # type: ignore[import-untyped]
from authlib.oidc.core import CodeIDToken  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet

from federation.allowlist import Allowlist, split_host_port
from federation.client import FederationClient, NotAllowed
from models.settings import Settings

DISCOVERY_SECONDS = 600  # how long the discovery document and the keys are kept
LEEWAY_SECONDS = 60  # clock difference tolerated on exp/iat
SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
                      "ES512", "EdDSA")  # fmt: skip
MAX_PROVIDER_BODY = 1 << 20
PENDING_SECONDS = 600  # a sign-in started longer ago than this is refused at the callback
SCOPES = "openid profile email"


class SignOnProblem(Exception):
    """Why a sign-in cannot go on: a reason code (the pages word it, web/ui/sign_on.py) and
    the values its wording names."""

    def __init__(self, reason: str, **values: str) -> None:
        super().__init__(f"{reason} {values}" if values else reason)
        self.reason = reason
        self.values = values


class ProviderUnavailable(SignOnProblem):
    """The provider cannot be reached or answered nonsense."""


class TokenRefused(SignOnProblem):
    """The provider's answer fails a check."""


@dataclass(frozen=True)
class Pending:
    """One started sign-in, kept in the browser's signed session until the callback."""

    state: str
    nonce: str
    verifier: str
    next: str
    started: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "nonce": self.nonce,
            "verifier": self.verifier,
            "next": self.next,
            "started": self.started,
        }

    @classmethod
    def from_dict(cls, data: object) -> Pending | None:
        if not isinstance(data, dict):
            return None
        try:
            return cls(
                str(data["state"]),
                str(data["nonce"]),
                str(data["verifier"]),
                str(data["next"]),
                float(data["started"]),
            )
        except (KeyError, TypeError, ValueError):
            return None

    @property
    def expired(self) -> bool:
        return time.time() - self.started > PENDING_SECONDS


def _issuer_pattern(issuer: str) -> str:
    parts = urlsplit(issuer)
    host, port = split_host_port(parts.netloc.lower())
    return f"{host}:{port}" if port else host


class OpenIDClient:
    """The node's side of the sign-on: builds the redirect, checks what comes back."""

    def __init__(self, settings: Settings) -> None:
        self.issuer = settings.oidc_issuer
        self.client_id = settings.oidc_client_id
        self.client_secret = settings.oidc_client_secret
        self.redirect_uri = settings.url("/auth/oidc/callback")
        allowed = Allowlist((_issuer_pattern(self.issuer),))
        self._http = FederationClient(
            lambda: allowed,
            connect_to=dict(settings.connect_to),
            ca_bundle=settings.ca_bundle or None,
        )
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._keys: KeySet | None = None

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _request(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None = None
    ) -> tuple[int, Any]:
        try:
            answer = await self._http.request(
                method, url, headers=headers, content=body, max_body=MAX_PROVIDER_BODY
            )
        except NotAllowed:
            raise ProviderUnavailable("foreign_endpoint", url=url[:200]) from None
        except Exception as exc:  # network, TLS, too large: the provider is unusable now
            raise ProviderUnavailable(
                "unreachable", issuer=self.issuer, error=type(exc).__name__
            ) from None
        try:
            return answer.status, orjson.loads(answer.body)
        except orjson.JSONDecodeError:
            raise ProviderUnavailable("not_json", url=url[:200]) from None

    async def metadata(self) -> dict[str, Any]:
        """The discovery document (OpenID Connect Discovery 1.0), kept for a while."""
        if self._metadata is not None and time.monotonic() - self._metadata_at < DISCOVERY_SECONDS:
            return self._metadata
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        status, found = await self._request("GET", url, {"accept": "application/json"})
        if status != 200 or not isinstance(found, dict):
            raise ProviderUnavailable("no_discovery", url=url, status=str(status))
        if found.get("issuer") != self.issuer:
            raise TokenRefused(
                "discovery_issuer", named=str(found.get("issuer"))[:200], issuer=self.issuer
            )
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(found.get(key), str):
                raise ProviderUnavailable("no_discovery", url=url, status=key)
        self._metadata, self._metadata_at, self._keys = found, time.monotonic(), None
        return found

    async def start(self, next_page: str) -> tuple[str, Pending]:
        """Where to send the browser, and what to remember for the callback."""
        meta = await self.metadata()
        pending = Pending(
            state=generate_token(32),
            nonce=generate_token(32),
            verifier=generate_token(64),
            next=next_page,
            started=time.time(),
        )
        url = prepare_grant_uri(
            meta["authorization_endpoint"],
            self.client_id,
            "code",
            redirect_uri=self.redirect_uri,
            scope=SCOPES,
            state=pending.state,
            nonce=pending.nonce,
            code_challenge=create_s256_code_challenge(pending.verifier),
            code_challenge_method="S256",
        )
        return str(url), pending

    async def _key_set(self, refresh: bool = False) -> KeySet:
        if self._keys is not None and not refresh:
            return self._keys
        meta = await self.metadata()
        status, found = await self._request("GET", meta["jwks_uri"], {"accept": "application/json"})
        if status != 200 or not isinstance(found, dict):
            raise ProviderUnavailable("no_keys")
        try:
            self._keys = KeySet.import_key_set(found)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError):
            raise ProviderUnavailable("no_keys") from None
        return self._keys

    async def redeem(self, code: str, pending: Pending) -> dict[str, Any]:
        """Exchange the code for tokens and return the checked claims (ID token, then
        userinfo for what the ID token leaves out)."""
        meta = await self.metadata()
        headers = {
            "content-type": "application/x-www-form-urlencoded",
            "accept": "application/json",
        }
        credentials: dict[str, str] = {"client_id": self.client_id}
        if self.client_secret:
            # RFC 6749 2.3.1: HTTP Basic unless the provider offers only the form fields
            # (and Basic is the default when its discovery document names no method).
            offered = meta.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
            if "client_secret_basic" in offered:
                pair = f"{quote(self.client_id, safe='')}:{quote(self.client_secret, safe='')}"
                headers["authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
                credentials = {}
            else:
                credentials["client_secret"] = self.client_secret
        body = prepare_token_request(
            "authorization_code",
            code=code,
            redirect_uri=self.redirect_uri,
            code_verifier=pending.verifier,
            **credentials,
        )
        status, tokens = await self._request("POST", meta["token_endpoint"], headers, body.encode())
        if status != 200 or not isinstance(tokens, dict):
            error = tokens.get("error") if isinstance(tokens, dict) else None
            raise TokenRefused(
                "code_used" if error == "invalid_grant" else "token_refused",
                error=str(error)[:100],
            )
        id_token = tokens.get("id_token")
        access_token = tokens.get("access_token")
        if not isinstance(id_token, str) or not isinstance(access_token, str):
            raise TokenRefused("no_id_token")
        claims = await self._checked_id_token(id_token, access_token, pending.nonce, meta)
        return await self._with_userinfo(claims, access_token, meta)

    async def _checked_id_token(
        self, id_token: str, access_token: str, nonce: str, meta: dict[str, Any]
    ) -> dict[str, Any]:
        offered = meta.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [a for a in offered if a in SIGNING_ALGORITHMS] or ["RS256"]
        try:
            try:
                token = jwt.decode(id_token, await self._key_set(), algorithms=algorithms)
            except InvalidKeyIdError:
                token = jwt.decode(id_token, await self._key_set(True), algorithms=algorithms)
            claims = CodeIDToken(
                token.claims,
                token.header,
                {
                    "iss": {"essential": True, "value": self.issuer},
                    "aud": {"essential": True, "value": self.client_id},
                },
                {"nonce": nonce, "client_id": self.client_id, "access_token": access_token},
            )
            claims.validate(leeway=LEEWAY_SECONDS)
        except (BadSignatureError, InvalidKeyIdError):
            raise TokenRefused("bad_signature") from None
        except ExpiredTokenError:
            raise TokenRefused("expired") from None
        except (InvalidClaimError, MissingClaimError) as exc:
            raise TokenRefused(_claim_problem(exc), issuer=self.issuer) from None
        except (JoseError, ValueError, TypeError):
            raise TokenRefused("unreadable") from None
        return dict(claims)

    async def _with_userinfo(
        self, claims: dict[str, Any], access_token: str, meta: dict[str, Any]
    ) -> dict[str, Any]:
        endpoint = meta.get("userinfo_endpoint")
        if not isinstance(endpoint, str):
            return claims
        status, info = await self._request(
            "GET",
            endpoint,
            {"accept": "application/json", "authorization": f"Bearer {access_token}"},
        )
        if status != 200 or not isinstance(info, dict):
            return claims  # the ID token alone is enough
        if info.get("sub") != claims.get("sub"):
            raise TokenRefused("userinfo_subject")
        return {**info, **claims}


def _claim_problem(exc: JoseError) -> str:
    """The reason code for a wrong or missing claim of the ID token."""
    claim = str(getattr(exc, "claim", "") or "")
    return {
        "iss": "wrong_issuer",
        "aud": "wrong_audience",
        "azp": "wrong_audience",
        "nonce": "wrong_nonce",
        "iat": "not_yet_valid",
        "nbf": "not_yet_valid",
    }.get(claim, "bad_claim")
