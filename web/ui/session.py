"""The browser session of the node's own pages: who is signed in, and CSRF tokens for forms.

The session lives in Starlette's signed cookie (SessionMiddleware). It holds the signed-in
account id and one random CSRF token; every form carries that token in a hidden field, and a
POST whose token does not match the session's is refused, so another site cannot submit our
forms with the user's cookie.
"""

from __future__ import annotations

import secrets

from starlette.requests import Request

from models.tables import Account, User
from web.node import node_of

CSRF_FIELD = "csrf_token"


def csrf_token(request: Request) -> str:
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


def sign_in(request: Request, account_id: int) -> None:
    """Start a fresh session: nothing from before the sign-in survives, not even the token."""
    request.session.clear()
    request.session["account_id"] = account_id
    csrf_token(request)


def sign_out(request: Request) -> None:
    request.session.clear()


async def signed_in(request: Request) -> tuple[Account, User] | None:
    """The signed-in local user, or None (also when the user was disabled since)."""
    account_id = request.session.get("account_id")
    if not isinstance(account_id, int):
        return None
    async with node_of(request).db.read() as session:
        account = await session.get(Account, account_id)
        user = await session.get(User, account_id)
    if account is None or user is None or user.disabled or account.suspended_at is not None:
        return None
    return account, user


def safe_next(target: object) -> str:
    """Where to go after signing in: only a path on this node, never another site."""
    if not isinstance(target, str) or not target.startswith("/"):
        return "/"
    if target.startswith(("//", "/\\")) or any(c in target for c in "\r\n\t"):
        return "/"
    return target
