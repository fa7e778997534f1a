"""OAuth2 grants: authorization requests, codes, and the tokens they turn into.

Codes and tokens are random 32-byte strings whose SHA-256 digests alone are stored. Each
state change (issuing, redeeming, rotating, revoking) is one write transaction, and a failed
check raises inside it, so bad input changes nothing.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.concurrency import run_in_threadpool

from models.base import utcnow
from models.db import Database
from models.tables import AccessToken, Account, AuthorizationCode, OAuthApp
from outbox import events
from web.api.apps import OOB, find_app
from web.api.errors import ApiError
from web.api.params import Params
from web.auth import (
    CODE_LIFETIME,
    check_password,
    digest,
    find_user,
    hash_password,
    issue_token,
    new_token,
    scopes_within,
    unknown_scopes,
)
from web.auth import parse_scopes as split_scopes
from web.login_guard import LoginGuard

DEFAULT_SCOPES = ["read"]
MAX_STATE_LENGTH = 2000
_PKCE_VALUE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


@lru_cache(maxsize=1)
def _decoy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


async def verify_login(
    db: Database, login: str, password: str, *, guard: LoginGuard, address: str
) -> Account | None:
    """The account whose e-mail address or user name and password these are.

    Argon2 runs off the event loop, and also for unknown logins, so that the answer's timing
    does not tell which user names exist. Raises TooManyFailures when `address` or `login`
    failed too often lately (then the password is not even checked).
    """
    guard.check(address, login)
    account = await _verify_login(db, login, password)
    if account is None:
        guard.failed(address, login)
    return account


async def _verify_login(db: Database, login: str, password: str) -> Account | None:
    async with db.read() as session:
        found = await find_user(session, login) if login.strip() else None
    if found is None:
        decoy = await run_in_threadpool(_decoy_hash)
        await run_in_threadpool(check_password, decoy, password)
        return None
    account, user = found
    if not await run_in_threadpool(check_password, user.password_hash, password):
        return None
    if user.disabled:  # a suspended account signs in, to learn why and to appeal
        return None
    return account


def oauth_error(error: str, description: str, status: int = 400) -> ApiError:
    return ApiError(status, error, description)


def scope_param(params: Params) -> str | None:
    """The requested scope: `scope` (OAuth) or `scopes`, as a string or an array."""
    for name in ("scope", "scopes"):
        value = params.raw(name)
        if isinstance(value, list | dict):
            return " ".join(params.strings(name))
        if value is not None and str(value).strip():
            return params.text(name)
    return None


def granted_scopes(requested_text: str | None, app: OAuthApp) -> list[str]:
    """Requested scopes, known and within what the app registered (`read` when none given)."""
    app_scopes = app.scopes.split()
    requested = list(dict.fromkeys(split_scopes(requested_text)))
    if not requested:
        requested = DEFAULT_SCOPES if scopes_within(DEFAULT_SCOPES, app_scopes) else app_scopes
    unknown = unknown_scopes(requested)
    if unknown:
        raise oauth_error("invalid_scope", f"Unknown scopes: {' '.join(unknown)}")
    if not scopes_within(requested, app_scopes):
        raise oauth_error("invalid_scope", "The requested scope is invalid, unknown, or malformed.")
    return requested


def pkce_matches(verifier: str, challenge: str) -> bool:
    """RFC 7636 S256: BASE64URL(SHA256(verifier)) without padding equals the challenge."""
    computed = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return secrets.compare_digest(computed.rstrip(b"="), challenge.encode())


def with_query(uri: str, values: dict[str, str | None]) -> str:
    """The redirect URI with parameters added; works for custom schemes (`app:/path`) too."""
    query = urlencode({k: v for k, v in values.items() if v is not None})
    return f"{uri}{'&' if '?' in uri else '?'}{query}"


# --- the authorization request (GET and POST /oauth/authorize) ---------------------------


class AuthorizationError(Exception):
    """A refused authorization request; `redirect_to` is set when the app may be told."""

    def __init__(self, error: str, description: str, redirect_to: str | None = None) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.redirect_to = redirect_to


@dataclass(frozen=True)
class AuthorizationRequest:
    app: OAuthApp
    redirect_uri: str
    scopes: list[str]
    state: str | None
    code_challenge: str | None

    @property
    def out_of_band(self) -> bool:
        return self.redirect_uri == OOB

    def fields(self) -> list[tuple[str, str]]:
        """The request as form fields, so that the consent form can repeat it."""
        fields = [
            ("client_id", self.app.client_id),
            ("redirect_uri", self.redirect_uri),
            ("response_type", "code"),
            ("scope", " ".join(self.scopes)),
        ]
        if self.state is not None:
            fields.append(("state", self.state))
        if self.code_challenge is not None:
            fields += [("code_challenge", self.code_challenge), ("code_challenge_method", "S256")]
        return fields

    def redirect(self, **values: str | None) -> str:
        return with_query(self.redirect_uri, {**values, "state": self.state})


def _redirect_uri(params: Params, app: OAuthApp) -> str:
    registered = app.redirect_uris.split()
    given = params.text("redirect_uri")
    if not given:
        if len(registered) == 1:
            return registered[0]
        raise AuthorizationError("invalid_request", "The redirect_uri parameter is missing.")
    if given not in registered:
        raise AuthorizationError(
            "invalid_redirect_uri",
            "The redirect URI included is not valid: it is not registered for this app.",
        )
    return given


def _code_challenge(params: Params, fail: Callable[[str, str], AuthorizationError]) -> str | None:
    challenge = params.text("code_challenge") or None
    method = params.text("code_challenge_method") or None
    if challenge is None:
        if method is not None:
            raise fail("invalid_request", "code_challenge_method was given without a challenge.")
        return None
    if method != "S256":
        raise fail("invalid_request", "Only the S256 code_challenge_method is supported.")
    if not _PKCE_VALUE.match(challenge):
        raise fail("invalid_request", "The code_challenge is malformed.")
    return challenge


async def authorization_request(session: AsyncSession, params: Params) -> AuthorizationRequest:
    """Check an authorization request; errors about the app itself are never redirected."""
    app = await find_app(session, params.text("client_id"))
    if app is None:
        raise AuthorizationError(
            "invalid_client", "Client authentication failed due to unknown client."
        )
    redirect_uri = _redirect_uri(params, app)
    state = params.text("state")

    def fail(error: str, description: str) -> AuthorizationError:
        if redirect_uri == OOB:
            return AuthorizationError(error, description)
        target = with_query(
            redirect_uri, {"error": error, "error_description": description, "state": state}
        )
        return AuthorizationError(error, description, target)

    if params.text("response_type") != "code":
        raise fail("unsupported_response_type", "Only response_type=code is supported.")
    if state is not None and len(state) > MAX_STATE_LENGTH:
        raise fail("invalid_request", "The state parameter is too long.")
    try:
        scopes = granted_scopes(scope_param(params), app)
    except ApiError as exc:
        raise fail(exc.message, exc.description or "") from None
    return AuthorizationRequest(app, redirect_uri, scopes, state, _code_challenge(params, fail))


async def issue_code(session: AsyncSession, request: AuthorizationRequest, account_id: int) -> str:
    code = new_token()
    now = utcnow()
    # Expired codes are useless; clear them out whenever a new one is made.
    await session.execute(delete(AuthorizationCode).where(AuthorizationCode.expires_at < now))
    session.add(
        AuthorizationCode(
            code_hash=digest(code),
            app_id=request.app.id,
            account_id=account_id,
            scopes=" ".join(request.scopes),
            redirect_uri=request.redirect_uri,
            code_challenge=request.code_challenge,
            expires_at=now + CODE_LIFETIME,
        )
    )
    return code


# --- tokens ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    access_token: str
    refresh_token: str | None
    scopes: list[str]
    created_at: datetime

    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "scope": " ".join(self.scopes),
            "created_at": int(self.created_at.timestamp()),
        }
        if self.refresh_token is not None:
            data["refresh_token"] = self.refresh_token
        return data


async def grant(
    session: AsyncSession,
    app: OAuthApp,
    account_id: int | None,
    scopes: list[str],
    *,
    with_refresh: bool = True,
) -> Grant:
    token, refresh, row = await issue_token(
        session, app_id=app.id, account_id=account_id, scopes=scopes, with_refresh=with_refresh
    )
    return Grant(token, refresh, scopes, row.created_at)


async def redeem_code(session: AsyncSession, app: OAuthApp, params: Params) -> Grant:
    """authorization_code: a code works once, for its app, redirect URI and PKCE verifier."""
    invalid = oauth_error(
        "invalid_grant",
        "The provided authorization grant is invalid, expired, revoked, does not match the "
        "redirection URI used in the authorization request, or was issued to another client.",
    )
    code = params.text("code")
    if not code:
        raise oauth_error("invalid_request", "The code parameter is missing.")
    row = await session.get(AuthorizationCode, digest(code))
    if row is None or row.app_id != app.id or row.expires_at <= utcnow():
        raise invalid
    redirect_uri = params.text("redirect_uri")
    if redirect_uri is not None and redirect_uri != row.redirect_uri:
        raise invalid
    if redirect_uri is None and len(app.redirect_uris.split()) != 1:
        raise oauth_error("invalid_request", "The redirect_uri parameter is missing.")
    if row.code_challenge is not None:
        verifier = params.text("code_verifier") or ""
        if not _PKCE_VALUE.match(verifier) or not pkce_matches(verifier, row.code_challenge):
            raise oauth_error("invalid_grant", "The code_verifier does not match the challenge.")
    # Deleting with a row count check keeps the code single-use under concurrent redemption.
    gone = await session.execute(
        delete(AuthorizationCode).where(AuthorizationCode.code_hash == row.code_hash)
    )
    if getattr(gone, "rowcount", 0) != 1:
        raise invalid
    return await grant(session, app, row.account_id, row.scopes.split())


async def rotate_refresh_token(session: AsyncSession, app: OAuthApp, params: Params) -> Grant:
    """refresh_token: the old pair stops working and a new pair is issued."""
    refresh = params.text("refresh_token")
    if not refresh:
        raise oauth_error("invalid_request", "The refresh_token parameter is missing.")
    old = (
        await session.execute(
            select(AccessToken).where(
                AccessToken.refresh_hash == digest(refresh), AccessToken.revoked_at.is_(None)
            )
        )
    ).scalar_one_or_none()
    if old is None or old.app_id != app.id:
        raise oauth_error("invalid_grant", "The refresh token is invalid, expired or revoked.")
    scopes = old.scopes.split()
    requested = split_scopes(scope_param(params))
    if requested:
        if unknown_scopes(requested) or not scopes_within(requested, scopes):
            raise oauth_error("invalid_scope", "The requested scope exceeds the original grant.")
        scopes = list(dict.fromkeys(requested))
    revoked = await session.execute(
        update(AccessToken)
        .where(AccessToken.id == old.id, AccessToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    if getattr(revoked, "rowcount", 0) != 1:
        raise oauth_error("invalid_grant", "The refresh token is invalid, expired or revoked.")
    events.token_revoked(session, old.id)
    return await grant(session, app, old.account_id, scopes)


async def revoke(session: AsyncSession, app: OAuthApp, token: str) -> None:
    """RFC 7009: an unknown token is fine; another app's token is not this client's to revoke."""
    hashed = digest(token)
    row = (
        await session.execute(
            select(AccessToken).where(
                or_(AccessToken.token_hash == hashed, AccessToken.refresh_hash == hashed)
            )
        )
    ).scalar_one_or_none()
    if row is None or row.revoked_at is not None:
        return
    if row.app_id != app.id:
        raise oauth_error("unauthorized_client", "You are not authorized to revoke this token", 403)
    row.revoked_at = utcnow()
    events.token_revoked(session, row.id)
