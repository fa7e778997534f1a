"""Signing in with a company identity: find, link or create the local account, and give it
the role its provider groups map to — in one transaction with its audit entries.

The provider's claims arrive checked (web/oidc.py). A first sign-in links by user name
first, then by an e-mail address the provider marks verified, and creates an account only
when neither matches. The role map is applied at every sign-in: for the roles it names, the
provider is the truth (a person who left the `admins` group is no admin at the next
sign-in); a role the map does not name (a custom role an admin gave, or the owner) stays.
`OIDC_GROUP_MAP` keeps the memberships of the Flurfunk groups it names in step with the same
claim (outbox.group_map), in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import admin
from models.account import Account, User
from models.settings import Settings
from models.sign_on import SignOnIdentity
from outbox.accounts import AccountError, create_local_account
from outbox.group_map import follow_directory
from outbox.roles import find_role

OPERATOR = "sign-on"  # the audit log's name for what sign-ins change
# No password matches this (it is no Argon2 hash): accounts from sign-on have none until an
# admin sets one with `flurfunk user reset-password`.
NO_PASSWORD = "!sign-on"


class SignOnRefused(Exception):
    """Why this identity may not sign in: a reason code (the pages word it) and values."""

    def __init__(self, reason: str, **values: str) -> None:
        super().__init__(f"{reason} {values}" if values else reason)
        self.reason = reason
        self.values = values


@dataclass(frozen=True)
class Identity:
    """What the provider says about the person, already checked for shape."""

    issuer: str
    subject: str
    username: str
    display_name: str
    email: str | None
    email_verified: bool
    groups: frozenset[str]


async def _linked(session: AsyncSession, identity: Identity) -> tuple[Account, User] | None:
    row = (
        await session.execute(
            select(Account, User)
            .join(User, User.account_id == Account.id)
            .join(SignOnIdentity, SignOnIdentity.account_id == Account.id)
            .where(
                SignOnIdentity.issuer == identity.issuer,
                SignOnIdentity.subject == identity.subject,
            )
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def _local_by(session: AsyncSession, *condition: object) -> tuple[Account, User] | None:
    row = (
        await session.execute(
            select(Account, User)
            .join(User, User.account_id == Account.id)
            .where(Account.domain.is_(None), *condition)  # type: ignore[arg-type]
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def _link(session: AsyncSession, identity: Identity, account: Account, how: str) -> None:
    other = await session.scalar(
        select(SignOnIdentity.subject).where(
            SignOnIdentity.account_id == account.id, SignOnIdentity.issuer == identity.issuer
        )
    )
    if other is not None:
        raise SignOnRefused("linked_to_other", username=account.username)
    session.add(
        SignOnIdentity(issuer=identity.issuer, subject=identity.subject, account_id=account.id)
    )
    admin.record(session, OPERATOR, "user.link", account.username, f"by={how}")


async def _existing(session: AsyncSession, identity: Identity) -> tuple[Account, User] | None:
    """The account of an earlier sign-in, or the one a first sign-in links to."""
    found = await _linked(session, identity)
    if found is not None:
        return found
    found = await _local_by(session, func.lower(Account.username) == identity.username.lower())
    if found is not None:
        await _link(session, identity, found[0], "username")
        return found
    if identity.email and identity.email_verified:
        found = await _local_by(session, func.lower(User.email) == identity.email.lower())
        if found is not None:
            await _link(session, identity, found[0], "email")
            return found
    return None


async def mapped_role(
    session: AsyncSession, role_map: tuple[tuple[str, str], ...], groups: frozenset[str]
) -> str | None:
    """The first role of the map whose group the person is in (and which exists)."""
    for group, role in role_map:
        if group in groups and await find_role(session, role) is not None:
            return role
    return None


async def _apply_roles(
    session: AsyncSession, settings: Settings, account: Account, user: User, wanted: str | None
) -> None:
    mapped = {role for _, role in settings.oidc_role_map}
    if user.role == "owner":
        return
    if wanted is None:
        if user.role not in mapped or user.role == "user":
            return
        wanted = "user"
    if user.role != wanted:
        admin.record(
            session, OPERATOR, "user.role", account.username, f"role={wanted} was={user.role}"
        )
        user.role = wanted


async def sign_in_identity(
    session: AsyncSession, settings: Settings, identity: Identity
) -> Account:
    """The local account this identity signs in as; SignOnRefused (nothing written) if none."""
    wanted = await mapped_role(session, settings.oidc_role_map, identity.groups)
    found = await _existing(session, identity)
    if found is not None:
        account, user = found
        # A suspended person may still sign in to read why and appeal; a disabled one may not.
        if user.disabled:
            raise SignOnRefused("disabled", username=account.username)
        await _apply_roles(session, settings, account, user, wanted)
        await _apply_groups(session, settings, account, identity)
        return account
    email = identity.email
    if email is not None:
        taken = await _local_by(session, func.lower(User.email) == email.lower())
        if taken is not None:
            raise SignOnRefused("email_taken", email=email)
    try:
        account = await create_local_account(
            session,
            settings,
            username=identity.username,
            password_hash=NO_PASSWORD,
            email=email,
            role=wanted or "user",
            display_name=identity.display_name,
        )
    except AccountError as exc:
        raise SignOnRefused("cannot_create", error=str(exc)) from None
    session.add(
        SignOnIdentity(issuer=identity.issuer, subject=identity.subject, account_id=account.id)
    )
    admin.record(session, OPERATOR, "user.create", account.username, f"role={wanted or 'user'}")
    await _apply_groups(session, settings, account, identity)
    return account


async def _apply_groups(
    session: AsyncSession, settings: Settings, account: Account, identity: Identity
) -> None:
    await follow_directory(session, OPERATOR, account, settings.oidc_group_map, identity.groups)
