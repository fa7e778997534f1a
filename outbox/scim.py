"""What the company directory does over SCIM (web.scim): provision local users, switch them
off and on, delete them, and keep its groups, whose members get roles as configured.

Each action runs in the caller's write transaction and writes its audit entry there, with
the operator `scim:LABEL` (the label of the directory's token). A deactivated user is
`disabled`: they cannot sign in by any way, and every token, browser session and open
stream of theirs ends at once (outbox.user_admin.end_sign_ins). This is a state of its own,
apart from a moderator's suspension, and only the directory lifts it (`active: true`).
Deletion is outbox.user_admin.delete_user: one federated Delete of the actor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from federation.allowlist import Allowlist
from models import admin
from models.account import Account, User
from models.base import utcnow
from models.scim import ScimGroup, ScimGroupMember, ScimToken, ScimUser
from models.settings import Settings
from outbox import relationship_activities, user_admin
from outbox.accounts import AccountError
from outbox.context import Federation
from outbox.permissions import AdminError, Operator, require
from outbox.profile import MAX_DISPLAY_NAME

# A password hash that no password matches (argon2 refuses it): provisioned users sign in
# through the company's sign-on, or with a password an admin resets for them.
NO_PASSWORD = "!scim"
TOKEN_LABEL_LENGTH = 64


class ScimProblem(AdminError):
    """A request the directory must change; `scim_type` as RFC 7644 §3.12 names it."""

    status = 400

    def __init__(self, message: str, scim_type: str = "invalidValue", status: int = 400) -> None:
        super().__init__(message)
        self.scim_type = scim_type
        self.status = status


def conflict(message: str) -> ScimProblem:
    return ScimProblem(message, "uniqueness", 409)


def not_found(what: str) -> ScimProblem:
    return ScimProblem(f"{what} not found", "", 404)


def operator(label: str) -> Operator:
    """The directory acts as an admin, named after its token in the audit log."""
    return Operator(f"scim:{label}", "admin")


# --- tokens --------------------------------------------------------------------------------


async def add_token(
    session: AsyncSession, operator: Operator, label: str, token_hash: str
) -> ScimToken:
    """A directory token (its digest); whoever made it is in the audit log, with their
    account when a person (not the command line) did."""
    require(operator, "administer_users")
    label = label.strip()
    if not label or len(label) > TOKEN_LABEL_LENGTH or not label.isprintable():
        raise AdminError(f"the label must be 1 to {TOKEN_LABEL_LENGTH} printable characters")
    row = ScimToken(name=label, token_hash=token_hash)
    session.add(row)
    await session.flush()
    admin.record(
        session, operator.name, "scim.token_create", label, operator_account_id=operator.account_id
    )
    return row


async def token_label(session: AsyncSession, token_hash: str) -> str | None:
    """The label of the directory token with this digest (None: no such token)."""
    return await session.scalar(select(ScimToken.name).where(ScimToken.token_hash == token_hash))


# --- users ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserFacts:
    """What the directory says about a user; None leaves a fact unset (or clears it)."""

    user_name: str
    display_name: str | None = None
    email: str | None = None
    active: bool = True
    external_id: str | None = None


@dataclass(frozen=True)
class Provisioned:
    """A local user as the directory sees it."""

    account: Account
    user: User
    external_id: str | None
    groups: list[tuple[int, str]]  # (group id, display name)


def _check(facts: UserFacts) -> None:
    if facts.display_name is not None and len(facts.display_name) > MAX_DISPLAY_NAME:
        raise ScimProblem(f"displayName: at most {MAX_DISPLAY_NAME} characters")
    if facts.email is not None and (len(facts.email) > 320 or "@" not in facts.email):
        raise ScimProblem(f"emails: {facts.email[:80]!r} is not an e-mail address")
    if facts.external_id is not None and len(facts.external_id) > 255:
        raise ScimProblem("externalId: at most 255 characters")


async def _email_free(session: AsyncSession, email: str, account_id: int | None) -> None:
    query = select(User.account_id).where(func.lower(User.email) == email.lower())
    if account_id is not None:
        query = query.where(User.account_id != account_id)
    if await session.scalar(query) is not None:
        raise conflict(f"the e-mail address {email!r} belongs to another user")


async def find_user(session: AsyncSession, account_id: int) -> Provisioned:
    row = (
        await session.execute(
            select(Account, User, ScimUser.external_id)
            .join(User, User.account_id == Account.id)
            .outerjoin(ScimUser, ScimUser.account_id == Account.id)
            .where(Account.id == account_id, Account.domain.is_(None))
        )
    ).first()
    if row is None:
        raise not_found(f"User {account_id}")
    groups = await _groups_of(session, [account_id])
    return Provisioned(row[0], row[1], row[2], groups.get(account_id, []))


async def list_users(
    session: AsyncSession, *, user_name: str | None, offset: int, limit: int
) -> tuple[int, list[Provisioned]]:
    """Local users by id, one page; `user_name` (any case) picks one. Returns the total too."""
    where: list[Any] = [Account.domain.is_(None)]
    if user_name is not None:
        where.append(func.lower(Account.username) == user_name.lower())
    total = await session.scalar(
        select(func.count())
        .select_from(Account)
        .join(User, User.account_id == Account.id)
        .where(*where)
    )
    rows = (
        await session.execute(
            select(Account, User, ScimUser.external_id)
            .join(User, User.account_id == Account.id)
            .outerjoin(ScimUser, ScimUser.account_id == Account.id)
            .where(*where)
            .order_by(Account.id)
            .offset(offset)
            .limit(limit)
        )
    ).all()
    groups = await _groups_of(session, [r[0].id for r in rows])
    return int(total or 0), [Provisioned(a, u, x, groups.get(a.id, [])) for a, u, x in rows]


async def _groups_of(
    session: AsyncSession, account_ids: list[int]
) -> dict[int, list[tuple[int, str]]]:
    if not account_ids:
        return {}
    rows = await session.execute(
        select(ScimGroupMember.account_id, ScimGroup.id, ScimGroup.display_name)
        .join(ScimGroup, ScimGroup.id == ScimGroupMember.group_id)
        .where(ScimGroupMember.account_id.in_(account_ids))
        .order_by(ScimGroup.display_name)
    )
    found: dict[int, list[tuple[int, str]]] = {}
    for account_id, group_id, name in rows.all():
        found.setdefault(account_id, []).append((group_id, name))
    return found


async def _set_external_id(session: AsyncSession, account_id: int, external_id: str | None) -> None:
    row = await session.get(ScimUser, account_id)
    if row is None:
        session.add(ScimUser(account_id=account_id, external_id=external_id))
    elif row.external_id != external_id:
        row.external_id = external_id
        row.updated_at = utcnow()


def record(session: AsyncSession, who: Operator, action: str, target: str, detail: str) -> None:
    admin.record(session, who.name, action, target, detail)


async def create_user(
    session: AsyncSession, settings: Settings, who: Operator, facts: UserFacts
) -> Provisioned:
    _check(facts)
    if facts.email is not None:
        await _email_free(session, facts.email, None)
    try:
        account = await user_admin.create_user(
            session,
            settings,
            who,
            username=facts.user_name,
            password_hash=NO_PASSWORD,
            email=facts.email,
        )
    except AccountError as exc:
        taken = "is taken" in str(exc)
        raise ScimProblem(
            str(exc), "uniqueness" if taken else "invalidValue", 409 if taken else 400
        ) from None
    account.display_name = facts.display_name or ""
    await _set_external_id(session, account.id, facts.external_id)
    user = await session.get(User, account.id)
    assert user is not None
    if not facts.active:
        user.disabled = True
        record(session, who, "user.disable", account.username, "by the directory")
    await session.flush()
    return Provisioned(account, user, facts.external_id, [])


async def update_user(
    session: AsyncSession,
    who: Operator,
    fed: Federation | None,
    account_id: int,
    facts: UserFacts,
) -> Provisioned:
    """Make the user what `facts` say (PUT, and PATCH after the patch was applied)."""
    _check(facts)
    found = await find_user(session, account_id)
    account, user = found.account, found.user
    if facts.user_name.lower() != account.username.lower():
        raise ScimProblem(
            "userName cannot change: it is the account's address on every node",
            "mutability",
        )
    changed = []
    display_name = facts.display_name or ""
    if display_name != account.display_name:
        account.display_name = display_name
        account.updated_at = utcnow()
        changed.append("displayName")
    if (facts.email or None) != user.email:
        if facts.email is not None:
            await _email_free(session, facts.email, account.id)
        user.email = facts.email
        changed.append("emails")
    if facts.external_id != found.external_id:
        changed.append("externalId")
    await _set_external_id(session, account.id, facts.external_id)
    if changed:
        record(session, who, "user.scim_update", account.username, ",".join(changed))
    if facts.active == user.disabled:
        await _switch(session, who, account, user, active=facts.active)
    await session.flush()
    if "displayName" in changed:
        await relationship_activities.update_person(session, fed, account)
    return await find_user(session, account_id)


async def _switch(
    session: AsyncSession, who: Operator, account: Account, user: User, *, active: bool
) -> None:
    """Deactivate (no sign-in at all, every sign-in ends now) or reactivate the user."""
    if active:
        user.disabled = False
        record(session, who, "user.enable", account.username, "by the directory")
        return
    await user_admin.keep_an_admin(session, user)
    user.disabled = True
    ended = await user_admin.end_sign_ins(session, account.id)
    record(session, who, "user.disable", account.username, f"tokens_revoked={ended}")


async def delete_user(
    session: AsyncSession,
    settings: Settings,
    allowlist: Allowlist,
    who: Operator,
    account_id: int,
) -> user_admin.Deleted:
    found = await find_user(session, account_id)
    try:
        deleted = await user_admin.delete_user(
            session, settings, allowlist, who, found.account.username
        )
    except AdminError as exc:
        raise ScimProblem(str(exc), "", 400 if exc.status == 422 else exc.status) from None
    await session.execute(delete(ScimGroupMember).where(ScimGroupMember.account_id == account_id))
    await session.execute(delete(ScimUser).where(ScimUser.account_id == account_id))
    return deleted
