"""What admins and moderators do to local users: create, suspend and unsuspend, change the
role, reset the password, delete. Used by the CLI and the admin pages alike.

Every action runs in the caller's write transaction, takes the `Operator` who does it, and
writes its audit entry (models.admin) in that transaction, so the log holds exactly what
happened. Whatever ends a user's access — disabling, a new password, deletion — revokes all
their tokens at once: API calls fail from the next request on, in every process, and open
streams end (at once for streams of this process, within web.token_watch's interval for those
of another process, e.g. when the CLI did it). A suspension keeps the sign-ins so that the
person learns why and can appeal (web.api.base lets a suspended account read its
notifications and warnings and nothing else); its open streams end all the same.

Federation: a suspension stays on this node (as on Mastodon, which federates a local user's
removal only when the account is deleted); it is undone with `unsuspend`. Deletion federates
one Delete of the actor to every node this one knows accounts of, in the same transaction;
those nodes remove the account and everything of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from federation.allowlist import Allowlist
from federation.jsonld import PUBLIC
from models import admin
from models.account import Account, User
from models.base import utcnow
from models.conversation import ConversationMark
from models.filters import Filter
from models.interaction import Bookmark, Pin
from models.notification import Notification
from models.oauth import AccessToken, AuthorizationCode
from models.personal import (
    AccountNote,
    ConversationMute,
    DomainBlock,
    Endorsement,
    FeaturedTag,
    NotificationPolicy,
)
from models.poll import ScheduledStatus
from models.relationship import Block, Mute
from models.settings import Settings
from models.timeline import FeedEntry, FollowedTag, List, ListAccount, Marker
from outbox import account_removal, browser_sessions, events, legal_holds, render
from outbox.accounts import create_local_account
from outbox.deliveries import enqueue
from outbox.permissions import AdminError, NotPermitted, Operator, outranks, require
from outbox.roles import find_role, role_named

__all__ = ["AdminError", "NotPermitted", "Operator", "UnknownUser"]

# Roles that keep the node administrable: one of them must stay active.
ADMIN_ROLES = ("admin", "owner")


class UnknownUser(AdminError):
    status = 404


@dataclass(frozen=True)
class UserSummary:
    id: int
    username: str
    email: str | None
    role: str
    created_at: datetime
    suspended_at: datetime | None
    statuses_count: int
    last_used_at: datetime | None  # the last API call with any of the user's tokens
    disabled: bool = False  # switched off by the company directory (outbox.scim)


@dataclass(frozen=True)
class Deleted:
    account: Account
    deliveries: int  # rows queued for the Delete of the actor
    media: list[str]  # files to remove once the transaction committed


async def list_users(session: AsyncSession, search: str = "") -> list[UserSummary]:
    """Local users (deleted accounts are gone), by name; `search` matches name or e-mail."""
    last_used = (
        select(func.max(AccessToken.last_used_at))
        .where(AccessToken.account_id == Account.id)
        .scalar_subquery()
    )
    query = (
        select(Account, User, last_used)
        .join(User, User.account_id == Account.id)
        .where(Account.domain.is_(None))
        .order_by(func.lower(Account.username))
    )
    if search:
        like = f"%{search.lower()}%"
        query = query.where(
            func.lower(Account.username).like(like) | func.lower(User.email).like(like)
        )
    return [
        UserSummary(
            a.id,
            a.username,
            u.email,
            u.role,
            a.created_at,
            a.suspended_at,
            a.statuses_count,
            used,
            u.disabled,
        )
        for a, u, used in (await session.execute(query)).all()
    ]


async def find(session: AsyncSession, name: str) -> tuple[Account, User]:
    """The local user called `name` (any case); UnknownUser if there is none (or no more)."""
    row = (
        await session.execute(
            select(Account, User)
            .join(User, User.account_id == Account.id)
            .where(func.lower(Account.username) == name.strip().lower(), Account.domain.is_(None))
            .with_for_update()
        )
    ).first()
    if row is None:
        raise UnknownUser(f"no local user {name!r}")
    return row[0], row[1]


async def may_act_on(
    session: AsyncSession, operator: Operator, account: Account, user: User
) -> None:
    require(operator, "administer_users")
    if operator.account_id == account.id:
        raise NotPermitted("you cannot do this to your own account")
    role = await find_role(session, user.role)
    if not outranks(operator, role.permissions if role else frozenset()):
        raise NotPermitted(f"you may not change the account of a {user.role}")


def _may_decide_roles(operator: Operator) -> None:
    """Creating, deleting and re-roling accounts decides who holds which permissions."""
    require(operator, "administer_users")
    require(operator, "manage_roles")


async def _keep_an_admin(session: AsyncSession, user: User) -> None:
    """Refuse to take away the node's last active admin."""
    if user.role not in ADMIN_ROLES:
        return
    others = await session.scalar(
        select(func.count())
        .select_from(User)
        .join(Account, Account.id == User.account_id)
        .where(
            User.role.in_(ADMIN_ROLES),
            User.account_id != user.account_id,
            User.disabled.is_(False),
            Account.suspended_at.is_(None),
        )
    )
    if not others:
        raise AdminError("this is the last admin of the node: make someone else admin first")


keep_an_admin = _keep_an_admin  # also for the directory's deactivations (outbox.scim)


def _record(
    session: AsyncSession, operator: Operator, action: str, target: str, **detail: Any
) -> None:
    text = " ".join(f"{k}={v}" for k, v in detail.items())
    admin.record(
        session, operator.name, action, target, text, operator_account_id=operator.account_id
    )


async def end_sign_ins(session: AsyncSession, account_id: int) -> int:
    """End the account's browser sessions and revoke every token (their streams end).

    Returns how many tokens were revoked, browser sessions' own tokens included.
    """
    sessions_ended = await browser_sessions.end_sessions(session, account_id)
    revoked = await session.execute(
        update(AccessToken)
        .where(AccessToken.account_id == account_id, AccessToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .returning(AccessToken.id)
        .execution_options(synchronize_session=False)
    )
    ids = list(revoked.scalars())
    for token_id in ids:
        events.token_revoked(session, token_id)
    await session.execute(
        delete(AuthorizationCode).where(AuthorizationCode.account_id == account_id)
    )
    return sessions_ended + len(ids)


async def _may_give(session: AsyncSession, operator: Operator, role: str) -> None:
    """Nobody hands out a permission they do not hold themselves."""
    given = await role_named(session, role)
    missing = sorted(given.permissions - operator.permissions)
    if missing:
        raise NotPermitted(f"This action requires the permission {missing[0]}")


async def create_user(
    session: AsyncSession,
    settings: Settings,
    operator: Operator,
    *,
    username: str,
    password_hash: str,
    email: str | None = None,
    role: str = "user",
) -> Account:
    _may_decide_roles(operator)
    await _may_give(session, operator, role)
    account = await create_local_account(
        session, settings, username=username, password_hash=password_hash, email=email, role=role
    )
    _record(session, operator, "user.create", account.username, role=role)
    return account


async def suspend(session: AsyncSession, operator: Operator, name: str, reason: str = "") -> bool:
    """Suspend the user; False when they were suspended already (nothing changes).

    They keep their sign-ins but can only read why (verify_credentials, notifications,
    warnings) and appeal; every other call answers 403 with the reason (web.api.base)."""
    account, user = await find(session, name)
    await may_act_on(session, operator, account, user)
    if account.suspended_at is not None:
        return False
    await _keep_an_admin(session, user)
    account.suspended_at = utcnow()
    account.suspension_reason = reason
    _record(session, operator, "user.suspend", account.username, reason=reason or "-")
    return True


async def unsuspend(session: AsyncSession, operator: Operator, name: str) -> bool:
    """Lift a suspension (the user signs in again); False when there was none."""
    account, user = await find(session, name)
    await may_act_on(session, operator, account, user)
    if account.suspended_at is None:
        return False
    account.suspended_at = None
    account.suspension_reason = None
    _record(session, operator, "user.unsuspend", account.username)
    return True


async def disable(session: AsyncSession, operator: Operator, name: str, reason: str = "") -> bool:
    """Refuse the user's sign-ins: every token and browser session ends at once, and the
    password no longer works (unlike a suspension); False when disabled already."""
    account, user = await find(session, name)
    await may_act_on(session, operator, account, user)
    if user.disabled:
        return False
    await _keep_an_admin(session, user)
    user.disabled = True
    ended = await end_sign_ins(session, account.id)
    _record(session, operator, "user.disable", account.username, reason=reason or "-", tokens=ended)
    return True


async def enable(session: AsyncSession, operator: Operator, name: str) -> bool:
    account, user = await find(session, name)
    await may_act_on(session, operator, account, user)
    if not user.disabled:
        return False
    user.disabled = False
    _record(session, operator, "user.enable", account.username)
    return True


async def set_role(session: AsyncSession, operator: Operator, name: str, role: str) -> str:
    """Give the user `role`; returns the role they had."""
    _may_decide_roles(operator)
    await _may_give(session, operator, role)
    account, user = await find(session, name)
    await may_act_on(session, operator, account, user)
    before = user.role
    if before != role:
        if role not in ADMIN_ROLES:
            await _keep_an_admin(session, user)
        user.role = role
        _record(session, operator, "user.role", account.username, role=role, was=before)
    return before


async def reset_password(
    session: AsyncSession, operator: Operator, name: str, password_hash: str
) -> int:
    """Set a new password (hashed by the caller) and end every sign-in; returns how many
    tokens were revoked."""
    account, user = await find(session, name)
    await may_act_on(session, operator, account, user)
    user.password_hash = password_hash
    ended = await end_sign_ins(session, account.id)
    _record(session, operator, "user.reset_password", account.username, tokens_revoked=ended)
    return ended


async def _known_inboxes(session: AsyncSession) -> list[str]:
    """One inbox per node this one knows accounts of (its shared inbox where it has one)."""
    inbox = func.coalesce(func.nullif(Account.shared_inbox_url, ""), Account.inbox_url)
    rows = await session.execute(
        select(inbox).distinct().where(Account.domain.is_not(None), inbox.is_not(None))
    )
    return [url for url in rows.scalars() if url]


# What belongs to the account alone and goes with it (statuses, follows and favourites go
# through outbox.account_removal, which keeps counters right).
_OWN_ROWS: Sequence[Any] = (
    Bookmark,
    Pin,
    List,
    Filter,
    Marker,
    FeedEntry,
    FollowedTag,
    Notification,
    ConversationMark,
    ScheduledStatus,
    ListAccount,
    DomainBlock,
    ConversationMute,
    NotificationPolicy,
    FeaturedTag,
)


async def delete_user(
    session: AsyncSession,
    settings: Settings,
    allowlist: Allowlist,
    operator: Operator,
    name: str,
) -> Deleted:
    """Delete the account: federate a Delete of the actor, remove everything it had here.

    The account row stays (suspended, emptied, its keys kept to sign the Delete), so its name
    and actor URL are never given to anyone else.
    """
    _may_decide_roles(operator)
    account, user = await find(session, name)
    await may_act_on(session, operator, account, user)
    await _keep_an_admin(session, user)
    if await legal_holds.is_held(session, account.id):
        raise AdminError(f"{account.username} is under legal hold: lift the hold first")
    actor = render.actor_uri(settings, account)
    activity = render.delete(actor, actor, [PUBLIC], [])
    queued = await enqueue(
        session,
        allowlist,
        actor=account,
        activity=activity,
        inboxes=await _known_inboxes(session),
    )
    await end_sign_ins(session, account.id)
    media = await account_removal.remove_account(session, account)
    for model in _OWN_ROWS:
        await session.execute(delete(model).where(model.account_id == account.id))
    for model in (Block, Mute, AccountNote, Endorsement):
        await session.execute(
            delete(model).where(
                (model.account_id == account.id) | (model.target_account_id == account.id)
            )
        )
    media += [p for p in (account.avatar_path, account.header_path) if p]
    account.display_name, account.note, account.note_source, account.fields = "", "", "", []
    account.avatar_path = account.header_path = None
    account.discoverable = False
    await session.delete(user)
    _record(session, operator, "user.delete", account.username, deliveries=queued)
    await session.flush()
    return Deleted(account, queued, media)
