"""Invite links: an admin creates a colleague's account without a password, and the colleague
chooses one by opening a single-use link that lapses after a week (by default).

The account exists from the start (the name is taken, it shows in the user list, others can
follow it); until the invite is used nobody can sign in to it. Only the token's SHA-256 digest
is stored. Creating and using an invite are in the admin audit log.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import admin
from models.account import Account, User
from models.base import utcnow
from models.invite import Invite
from models.settings import Settings
from outbox import user_admin
from outbox.user_admin import Operator

LIFETIME = timedelta(days=7)
# Not an Argon2 hash, so no password matches it: the account waits for its invite.
NO_PASSWORD_YET = "!invited"
TOKEN_LENGTH = 43  # secrets.token_urlsafe(32)


class UnknownInvite(LookupError):
    """No invite has this token (or the text is no token at all): 404."""


class InviteGone(LookupError):
    """The invite was used, has expired, or its account is suspended or deleted: 410."""


@dataclass(frozen=True)
class Issued:
    account: Account
    token: str
    expires_at: datetime

    def link(self, settings: Settings) -> str:
        return settings.url(f"/auth/invite/{self.token}")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def invite_user(
    session: AsyncSession,
    settings: Settings,
    operator: Operator,
    *,
    username: str,
    email: str | None = None,
    role: str = "user",
    lifetime: timedelta = LIFETIME,
) -> Issued:
    """Create the account (with user_admin's checks and audit entry) and its invite."""
    account = await user_admin.create_user(
        session,
        settings,
        operator,
        username=username,
        password_hash=NO_PASSWORD_YET,
        email=email,
        role=role,
    )
    token = secrets.token_urlsafe(32)
    expires_at = utcnow() + lifetime
    session.add(
        Invite(
            token_hash=_digest(token),
            account_id=account.id,
            created_by=operator.name,
            expires_at=expires_at,
        )
    )
    admin.record(
        session,
        operator.name,
        "user.invite",
        account.username,
        f"expires={expires_at:%Y-%m-%d %H:%M}",
        operator_account_id=operator.account_id,
    )
    return Issued(account, token, expires_at)


async def open_invite(
    session: AsyncSession, token: str, *, lock: bool = False
) -> tuple[Invite, Account, User]:
    """The invite behind `token` while it may still be used."""
    if len(token) != TOKEN_LENGTH or not all(c.isalnum() or c in "-_" for c in token):
        raise UnknownInvite
    query = (
        select(Invite, Account, User)
        .join(Account, Account.id == Invite.account_id)
        .outerjoin(User, User.account_id == Account.id)
        .where(Invite.token_hash == _digest(token))
    )
    row = (await session.execute(query.with_for_update(of=Invite) if lock else query)).first()
    if row is None:
        raise UnknownInvite
    invite, account, user = row
    if invite.used_at is not None or invite.expires_at <= utcnow():
        raise InviteGone
    if user is None or account.suspended_at is not None:
        raise InviteGone
    return invite, account, user


async def use_invite(session: AsyncSession, token: str, password_hash: str) -> Account:
    """Set the invited user's password and spend the invite (in the caller's transaction)."""
    invite, account, user = await open_invite(session, token, lock=True)
    invite.used_at = utcnow()
    user.password_hash = password_hash
    admin.record(
        session,
        account.username,
        "user.invite_used",
        account.username,
        operator_account_id=account.id,
    )
    return account
