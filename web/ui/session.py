"""Browser sessions of the node's own pages: who is signed in, and CSRF tokens for forms.

Starlette's signed cookie (SessionMiddleware) carries a random session secret and one CSRF
token. The session itself lives in the `browser_sessions` table with an access token of its
own (see models.browser_session): signing out, a password change or a suspension ends it on
the server, so a copied cookie stops working. Every form carries the CSRF token in a hidden
field, and a POST whose token does not match the cookie's is refused.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection, Request

from models.base import utcnow
from models.filters import Filter
from models.tables import AccessToken, Account, BrowserSession, OAuthApp, User
from outbox.browser_sessions import end
from web.auth import TOP_SCOPES, Caller, issue_token, new_token, parse_scopes, suspension_error
from web.node import node_of

CSRF_FIELD = "csrf_token"
WEB_APP_NAME = "Web"
WEB_SCOPES = ["read", "write", "follow", "push"]
_CALLER = "flurfunk.web_caller"  # where a request keeps its looked-up caller
# As long as the signed cookie lives (Starlette's default max_age): no session outlives it.
SESSION_LIFETIME = timedelta(days=14)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def csrf_token(request: HTTPConnection) -> str:
    """The session's form token, created on first use."""
    token = request.session.get("csrf")
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def csrf_valid(request: Request, submitted: object) -> bool:
    expected = request.session.get("csrf")
    if not isinstance(expected, str) or not expected or not isinstance(submitted, str):
        return False
    return secrets.compare_digest(expected.encode(), submitted.encode())


async def web_app(session: AsyncSession) -> OAuthApp:
    """The app that browser sessions' tokens belong to (statuses show it as "Web")."""
    app = (
        (await session.execute(select(OAuthApp).where(OAuthApp.name == WEB_APP_NAME)))
        .scalars()
        .first()
    )
    if app is None:
        app = OAuthApp(
            name=WEB_APP_NAME,
            redirect_uris="urn:ietf:wg:oauth:2.0:oob",
            scopes=" ".join(TOP_SCOPES),
            client_id=new_token(),
            client_secret=new_token(),
        )
        session.add(app)
        await session.flush()
    return app


async def sign_in(request: Request, account_id: int) -> None:
    """Start a fresh session: nothing from before the sign-in survives, not even the token."""
    secret = secrets.token_urlsafe(32)
    async with node_of(request).db.write() as session:
        app = await web_app(session)
        _, _, token = await issue_token(
            session, app_id=app.id, account_id=account_id, scopes=WEB_SCOPES, with_refresh=False
        )
        session.add(
            BrowserSession(
                secret_hash=_digest(secret),
                account_id=account_id,
                token_id=token.id,
                user_agent=request.headers.get("user-agent", "")[:255],
                last_seen_at=utcnow(),
            )
        )
    request.session.clear()
    request.session["sid"] = secret
    csrf_token(request)


async def sign_out(request: Request) -> None:
    secret = request.session.get("sid")
    request.session.clear()
    if not isinstance(secret, str):
        return
    async with node_of(request).db.write() as session:
        rows = (
            await session.execute(
                select(BrowserSession).where(
                    BrowserSession.secret_hash == _digest(secret),
                    BrowserSession.ended_at.is_(None),
                )
            )
        ).scalars()
        await end(session, list(rows))


async def web_caller(conn: HTTPConnection) -> Caller | None:
    """The signed-in local user as an API caller, or None; looked up once per request, and
    refused when the session ended, its token was revoked, or the user was disabled since.
    A suspended person gets AccountSuspended on every page but their warnings."""
    if _CALLER in conn.scope:
        cached: Caller | None = conn.scope[_CALLER]
    else:
        cached = await _look_up(conn)
        conn.scope[_CALLER] = cached
    if cached is not None and cached.account is not None:
        refusal = suspension_error(cached.account)
        if refusal is not None and not conn.url.path.startswith(SUSPENDED_PAGES):
            raise AccountSuspended(refusal)
    return cached


# The pages a suspended person may still open: their warnings and appeals, signing out.
SUSPENDED_PAGES = ("/settings/moderation", "/auth/")


class AccountSuspended(Exception):
    """A suspended person opened another page: answered 403 with the reason and a link to
    their warnings (web.ui.errors)."""


async def _look_up(conn: HTTPConnection) -> Caller | None:
    secret = conn.session.get("sid")
    if not isinstance(secret, str) or not secret:
        return None
    query = (
        select(
            BrowserSession.id,
            AccessToken,
            Account,
            User,
            exists().where(Filter.account_id == Account.id).label("has_filters"),
        )
        .join(AccessToken, AccessToken.id == BrowserSession.token_id)
        .join(Account, Account.id == BrowserSession.account_id)
        .join(User, User.account_id == BrowserSession.account_id)
        .where(
            BrowserSession.secret_hash == _digest(secret),
            BrowserSession.ended_at.is_(None),
            BrowserSession.created_at > utcnow() - SESSION_LIFETIME,
            AccessToken.revoked_at.is_(None),
        )
    )
    async with node_of(conn).db.read() as session:
        row = (await session.execute(query)).first()
    if row is None:
        return None
    session_id, token, account, user, has_filters = row
    if user.disabled:
        return None
    conn.scope["flurfunk.browser_session"] = session_id
    return Caller(token, account, user, frozenset(parse_scopes(token.scopes)), bool(has_filters))


def browser_session_id(conn: HTTPConnection) -> int | None:
    found = conn.scope.get("flurfunk.browser_session")
    return found if isinstance(found, int) else None


async def signed_in(request: Request) -> tuple[Account, User] | None:
    """The signed-in local user, or None."""
    caller = await web_caller(request)
    if caller is None or caller.account is None or caller.user is None:
        return None
    return caller.account, caller.user


def safe_next(target: object) -> str:
    """Where to go after signing in: only a path on this node, never another site."""
    if not isinstance(target, str) or not target.startswith("/"):
        return "/"
    if target.startswith(("//", "/\\")) or any(c in target for c in "\r\n\t"):
        return "/"
    return target
