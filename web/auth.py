"""Who is calling: bearer tokens, OAuth scopes, passwords.

Tokens are 43 characters of URL-safe base64 (32 random bytes) and only their SHA-256 digest is
stored, so a leaked database does not leak working tokens.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.filters import Filter
from models.tables import AccessToken, Account, OAuthApp, User

_hasher = PasswordHasher()

READ_SCOPES = (
    "accounts",
    "blocks",
    "bookmarks",
    "favourites",
    "filters",
    "follows",
    "lists",
    "mutes",
    "notifications",
    "search",
    "statuses",
)
WRITE_SCOPES = (
    "accounts",
    "blocks",
    "bookmarks",
    "conversations",
    "favourites",
    "filters",
    "follows",
    "lists",
    "media",
    "mutes",
    "notifications",
    "reports",
    "statuses",
)
TOP_SCOPES = ("read", "write", "follow", "push", "profile", "admin:read", "admin:write")
# Mastodon's admin sub-scopes, all known so that apps asking for them can register (only
# accounts and domain_allows have endpoints here); `admin:read`/`admin:write` cover them.
ADMIN_SCOPES = (
    "accounts",
    "reports",
    "domain_allows",
    "domain_blocks",
    "ip_blocks",
    "email_domain_blocks",
    "canonical_email_blocks",
)
KNOWN_SCOPES = frozenset(
    (
        *TOP_SCOPES,
        *(f"read:{s}" for s in READ_SCOPES),
        *(f"write:{s}" for s in WRITE_SCOPES),
        *(f"admin:{mode}:{s}" for mode in ("read", "write") for s in ADMIN_SCOPES),
    )
)
# The legacy `follow` scope covers reading and changing follows, blocks and mutes.
FOLLOW_IMPLIES = frozenset(
    f"{mode}:{what}" for mode in ("read", "write") for what in ("follows", "blocks", "mutes")
)
CLI_APP_NAME = "flurfunk CLI"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def parse_scopes(text: str | None) -> list[str]:
    return [s for s in (text or "").replace("+", " ").replace(",", " ").split() if s]


def unknown_scopes(scopes: list[str]) -> list[str]:
    return [s for s in scopes if s not in KNOWN_SCOPES]


def scope_allows(granted: frozenset[str], needed: str) -> bool:
    """Whether a token with `granted` scopes may do what needs `needed` (e.g. read:statuses)."""
    if needed in granted:
        return True
    parent = needed.split(":")[0]
    if parent in ("read", "write") and parent in granted:
        return True
    if parent == "admin" and needed.count(":") == 2 and needed.rsplit(":", 1)[0] in granted:
        return True
    if needed == "profile" and "read" in granted:
        return True
    return "follow" in granted and needed in FOLLOW_IMPLIES


def scopes_within(requested: list[str], allowed: list[str]) -> bool:
    granted = frozenset(allowed)
    return all(scope_allows(granted, s) for s in requested)


@dataclass(frozen=True)
class Caller:
    """The authenticated side of a request: a token, and the account it acts for (if any)."""

    token: AccessToken
    account: Account | None
    user: User | None
    scopes: frozenset[str]
    # Whether the account has content filters at all: endpoints skip loading them if not.
    has_filters: bool = True


# Built once (SQLAlchemy then reuses its cache key): it runs on every API request. Tokens are
# looked up in the database each time, never cached, so that a revoked token, a disabled
# user or a suspended account stops working at once in every process.
CALLER_BY_TOKEN = (
    select(
        AccessToken,
        Account,
        User,
        exists().where(Filter.account_id == AccessToken.account_id).label("has_filters"),
    )
    .outerjoin(Account, Account.id == AccessToken.account_id)
    .outerjoin(User, User.account_id == AccessToken.account_id)
    .where(AccessToken.token_hash == bindparam("token_hash"), AccessToken.revoked_at.is_(None))
)


async def caller_for_token(session: AsyncSession, token: str) -> Caller | None:
    """The caller behind a bearer token, in one query."""
    found = (await session.execute(CALLER_BY_TOKEN, {"token_hash": digest(token)})).first()
    if found is None:
        return None
    row, account, user, has_filters = found
    # A suspended account keeps its tokens: web.api.base lets it read why and appeal.
    if row.account_id is not None and (account is None or user is None or user.disabled):
        return None
    return Caller(row, account, user, frozenset(parse_scopes(row.scopes)), bool(has_filters))


async def find_user(session: AsyncSession, login: str) -> tuple[Account, User] | None:
    """A local user by e-mail address or user name (the sign-in forms accept either)."""
    login = login.strip()
    query = (
        select(Account, User)
        .join(User, User.account_id == Account.id)
        .where(
            or_(
                func.lower(User.email) == login.lower(),
                (func.lower(Account.username) == login.lower()) & Account.domain.is_(None),
            )
        )
    )
    row = (await session.execute(query)).first()
    return None if row is None else (row[0], row[1])


async def issue_token(
    session: AsyncSession,
    *,
    app_id: int | None,
    account_id: int | None,
    scopes: list[str],
    with_refresh: bool = True,
) -> tuple[str, str | None, AccessToken]:
    token = new_token()
    refresh = new_token() if with_refresh else None
    row = AccessToken(
        token_hash=digest(token),
        refresh_hash=digest(refresh) if refresh else None,
        app_id=app_id,
        account_id=account_id,
        scopes=" ".join(scopes),
    )
    session.add(row)
    await session.flush()
    return token, refresh, row


async def cli_app(session: AsyncSession) -> OAuthApp:
    """The app that tokens from `flurfunk user token` belong to."""
    app = (
        (await session.execute(select(OAuthApp).where(OAuthApp.name == CLI_APP_NAME)))
        .scalars()
        .first()
    )
    if app is None:
        app = OAuthApp(
            name=CLI_APP_NAME,
            redirect_uris="urn:ietf:wg:oauth:2.0:oob",
            scopes=" ".join(TOP_SCOPES),
            client_id=new_token(),
            client_secret=new_token(),
        )
        session.add(app)
        await session.flush()
    return app


CODE_LIFETIME = timedelta(minutes=10)


def suspension_error(account: Account | None) -> str | None:
    """What a suspended account's calls answer (403), or None when it is not suspended."""
    if account is None or account.suspended_at is None:
        return None
    return f"This account is suspended: {account.suspension_reason or 'no reason was given'}"
