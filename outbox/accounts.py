"""Creating local accounts."""

from __future__ import annotations

import asyncio
import re
import secrets

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from federation.keys import generate_rsa_keypair
from models.account import Account, User
from models.settings import Settings
from outbox.roles import find_role

USERNAME = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$")


class AccountError(ValueError):
    """A reason an account cannot be created, fit to show to the operator."""


def random_password() -> str:
    return secrets.token_urlsafe(18)


async def create_local_account(
    session: AsyncSession,
    settings: Settings,
    *,
    username: str,
    password_hash: str,
    email: str | None = None,
    role: str = "user",
    display_name: str = "",
) -> Account:
    if not USERNAME.fullmatch(username) or len(username) > 30:
        raise AccountError(
            f"invalid user name {username!r}: use letters, digits, _ . - (at most 30)"
        )
    if await find_role(session, role) is None:
        raise AccountError(f"unknown role {role!r}")
    taken = await session.scalar(
        select(func.count())
        .select_from(Account)
        .where(func.lower(Account.username) == username.lower(), Account.domain.is_(None))
    )
    if taken:
        raise AccountError(f"the user name {username!r} is taken")
    if email is not None:
        email_taken = await session.scalar(
            select(func.count()).select_from(User).where(func.lower(User.email) == email.lower())
        )
        if email_taken:
            raise AccountError(f"the e-mail address {email!r} is taken")
    private_pem, public_pem = await asyncio.to_thread(generate_rsa_keypair)
    actor = settings.url(f"/users/{username}")
    account = Account(
        username=username,
        domain=None,
        display_name=display_name,
        uri=actor,
        url=settings.url(f"/@{username}"),
        inbox_url=actor + "/inbox",
        shared_inbox_url=settings.url("/inbox"),
        followers_url=actor + "/followers",
        public_key_pem=public_pem,
        private_key_pem=private_pem,
    )
    session.add(account)
    await session.flush()
    session.add(User(account_id=account.id, email=email, password_hash=password_hash, role=role))
    await session.flush()
    return account


async def count_local_accounts(session: AsyncSession) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(Account).where(Account.domain.is_(None))
        )
        or 0
    )
