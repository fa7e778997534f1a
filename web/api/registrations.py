"""Sign-up through an app (POST /api/v1/accounts), when the operator opened registrations.

Closed by default: in a company, accounts usually come from the operator (`flurfunk user
create`). With REGISTRATIONS_OPEN, apps holding an app token may create accounts as on Mastodon.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from models.tables import OAuthApp
from outbox.accounts import AccountError, create_local_account
from web.api.base import call, ok
from web.api.errors import ApiError, validation
from web.auth import hash_password, issue_token, parse_scopes

MIN_PASSWORD = 8


async def register(request: Request) -> Response:
    c = await call(request, "write:accounts", user=False)
    if not c.node.settings.registrations_open:
        raise ApiError(403, "Registrations are closed on this node")
    if c.node.settings.oidc_only:
        # Accounts come from the company sign-on; a password account would bypass it.
        raise ApiError(403, "Accounts on this node come from the company sign-in (/auth/oidc)")
    assert c.caller is not None
    username = c.params.text("username", max_length=30) or ""
    email = c.params.text("email", max_length=320) or ""
    password = c.params.text("password", max_length=256) or ""
    if not c.params.flag("agreement"):
        raise validation("agreement must be accepted")
    if "@" not in email:
        raise validation("email is not a valid address")
    if len(password) < MIN_PASSWORD:
        raise validation(f"password is too short (minimum is {MIN_PASSWORD} characters)")
    password_hash = hash_password(password)
    try:
        async with c.node.db.write() as session:
            account = await create_local_account(
                session,
                c.node.settings,
                username=username,
                password_hash=password_hash,
                email=email,
            )
            app = await session.get(OAuthApp, c.caller.token.app_id or 0)
            scopes = parse_scopes(app.scopes if app else "read")
            token, refresh, row = await issue_token(
                session, app_id=app.id if app else None, account_id=account.id, scopes=scopes
            )
    except AccountError as exc:
        raise validation(str(exc)) from None
    except IntegrityError:
        raise validation("username or email is taken") from None
    return ok(
        {
            "access_token": token,
            "token_type": "Bearer",
            "scope": " ".join(scopes),
            "created_at": int(row.created_at.timestamp()),
            "refresh_token": refresh,
        }
    )


routes = [Route("/api/v1/accounts", register, methods=["POST"])]
