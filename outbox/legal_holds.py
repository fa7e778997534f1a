"""Legal holds: while an account is held, nothing of it is erased here.

Retention skips its posts (they stay as they are); a post it deletes itself, or that a
moderator or a Delete from its own node removes, is hidden instead: copied into the hold
archive (models.retention.HeldStatus, with its attachments' rows and files kept) before the
normal deletion takes it out of every timeline, API and federation view and federates the
Delete as usual. The investigation export (outbox.investigation) reads the archive too.
An account under hold cannot be deleted by an admin; lift the hold first.

Holds name an account (`name` local, `name@host` remote and known here) or a local group
(`group:NAME`). A group is an account, so its hold is a hold on the group's account; it also
covers every post in the group (`statuses.audience_id` = the group), whoever wrote it: such
a post is kept from retention and hidden instead of erased when its author, a moderator or
the group's moderators delete it. Only this node's groups can be held (a remote group's
posts are held by holding that group on its own node).
Adding and lifting a hold need `manage_compliance` and go into the audit log (target
`name`, `name@host` or `group:NAME`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import admin
from models.account import Account
from models.base import utcnow
from models.retention import HeldStatus, LegalHold
from models.settings import Settings
from models.status import MediaAttachment, Mention, Status, StatusTag, Tag
from outbox.permissions import AdminError, Operator, require

MAX_REASON = 1000


class UnknownHoldTarget(AdminError):
    status = 404


GROUP_PREFIX = "group:"


@dataclass(frozen=True)
class Hold:
    target: str  # the acct (`name` or `name@host`) or `group:NAME`
    account_id: int
    reason: str
    operator: str
    created_at: datetime


def held_ids() -> Any:
    """The ids of held accounts, as a subquery for `Status.account_id.not_in(...)`."""
    return select(LegalHold.account_id)


def unheld() -> ColumnElement[bool]:
    """Statuses neither of a held account nor posted in a held group (for retention)."""
    return (Status.account_id.not_in(held_ids())) & or_(
        Status.audience_id.is_(None), Status.audience_id.not_in(held_ids())
    )


async def is_held(session: AsyncSession, account_id: int) -> bool:
    return bool(await session.scalar(select(exists().where(LegalHold.account_id == account_id))))


async def holds_status(session: AsyncSession, status: Status) -> bool:
    """Whether a hold covers this post: its author's, or its group's."""
    if await is_held(session, status.account_id):
        return True
    return status.audience_id is not None and await is_held(session, status.audience_id)


def label(account: Account) -> str:
    """How a hold names its target: `group:NAME` for a local group, else the acct."""
    return (
        f"{GROUP_PREFIX}{account.username}"
        if account.group and account.is_local
        else account.acct()
    )


async def find_group_account(session: AsyncSession, settings: Settings, target: str) -> Account:
    """The group account `NAME` (or `NAME@this-node`) names; remote groups are refused."""
    text = target.strip().lstrip("@")
    name, _, host = text.partition("@")
    if not name or len(text) > 320 or "@" in host or name.startswith(GROUP_PREFIX):
        raise AdminError(f"not a group: {target!r} (group:NAME)")
    if host and host.lower() != settings.domain.lower():
        raise AdminError(
            f"group {text!r} is another node's: only this node's groups can be held or "
            "exported here (ask that node's compliance team)"
        )
    found = await session.scalar(
        select(Account).where(
            func.lower(Account.username) == name.lower(),
            Account.domain.is_(None),
            Account.group.is_(True),
        )
    )
    if found is None:
        raise UnknownHoldTarget(f"no group {name!r} on this node")
    return found


async def find_target(session: AsyncSession, settings: Settings, target: str) -> Account:
    """The account a hold names: `name`, `name@host` or `group:NAME`."""
    text = target.strip().lstrip("@")
    if text[: len(GROUP_PREFIX)].lower() == GROUP_PREFIX:
        return await find_group_account(session, settings, text[len(GROUP_PREFIX) :])
    return await find_account(session, settings, target)


async def find_account(session: AsyncSession, settings: Settings, target: str) -> Account:
    """The account `name` (local) or `name@host` (known here) names."""
    text = target.strip().lstrip("@")
    if text[: len(GROUP_PREFIX)].lower() == GROUP_PREFIX:
        raise AdminError(f"not an account: {target!r} (NAME or NAME@HOST; a group is group:NAME)")
    name, _, host = text.partition("@")
    if not name or "@" in host or len(text) > 320:
        raise AdminError(f"not an account: {target!r} (NAME or NAME@HOST)")
    if host.lower() == settings.domain.lower():
        host = ""
    query = select(Account).where(func.lower(Account.username) == name.lower())
    if host:
        query = query.where(func.lower(Account.domain) == host.lower())
    else:
        query = query.where(Account.domain.is_(None))
    account = await session.scalar(query)
    if account is None:
        raise UnknownHoldTarget(f"no account {text!r} known on this node")
    return account


def _clean_reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise AdminError("a hold needs a reason")
    if len(reason) > MAX_REASON:
        raise AdminError(f"the reason is longer than {MAX_REASON} characters")
    return reason


async def add_hold(
    session: AsyncSession, settings: Settings, operator: Operator, target: str, reason: str
) -> Hold:
    require(operator, "manage_compliance")
    reason = _clean_reason(reason)
    account = await find_target(session, settings, target)
    name = label(account)
    if await is_held(session, account.id):
        raise AdminError(f"{name} is under legal hold already")
    row = LegalHold(account_id=account.id, reason=reason, operator=operator.name)
    session.add(row)
    admin.record(
        session,
        operator.name,
        "hold.add",
        name,
        reason,
        operator_account_id=operator.account_id,
    )
    await session.flush()
    return Hold(name, account.id, reason, operator.name, row.created_at)


async def remove_hold(
    session: AsyncSession, settings: Settings, operator: Operator, target: str
) -> Hold:
    require(operator, "manage_compliance")
    account = await find_target(session, settings, target)
    name = label(account)
    row = await session.scalar(select(LegalHold).where(LegalHold.account_id == account.id))
    if row is None:
        raise UnknownHoldTarget(f"{name} is not under legal hold")
    hold = Hold(name, account.id, row.reason, row.operator, row.created_at)
    await session.delete(row)
    admin.record(
        session,
        operator.name,
        "hold.remove",
        name,
        operator_account_id=operator.account_id,
    )
    await session.flush()
    return hold


async def list_holds(session: AsyncSession) -> list[Hold]:
    rows = await session.execute(
        select(LegalHold, Account)
        .join(Account, Account.id == LegalHold.account_id)
        .order_by(LegalHold.id)
    )
    return [
        Hold(label(account), account.id, hold.reason, hold.operator, hold.created_at)
        for hold, account in rows.all()
    ]


async def preserve(session: AsyncSession, status: Status, by: str) -> None:
    """Copy a held post (its author's or its group's hold) into the hold archive before it
    is deleted (`by`: who deleted it — `author`, `moderation`, `group moderation`, `remote`).
    Its attachments' rows and files stay."""
    if await session.get(HeldStatus, status.id) is not None:
        return
    mentions = await session.scalars(
        select(Mention.account_id).where(Mention.status_id == status.id)
    )
    tags = await session.scalars(
        select(Tag.name)
        .join(StatusTag, StatusTag.tag_id == Tag.id)
        .where(StatusTag.status_id == status.id)
    )
    media = await session.scalars(
        select(MediaAttachment.id).where(MediaAttachment.status_id == status.id)
    )
    data = {
        "uri": status.uri,
        "url": status.url,
        "local": status.local,
        "text": status.text,
        "content": status.content,
        "spoiler_text": status.spoiler_text,
        "sensitive": status.sensitive,
        "visibility": status.visibility,
        "language": status.language,
        "in_reply_to_id": status.in_reply_to_id,
        "reblog_of_id": status.reblog_of_id,
        "audience_id": status.audience_id,
        "edited_at": status.edited_at.isoformat() if status.edited_at else None,
        "mentions": list(mentions),
        "tags": list(tags),
        "media_ids": list(media),
        "deleted_by": by,
    }
    session.add(
        HeldStatus(
            id=status.id,
            account_id=status.account_id,
            created_at=status.created_at,
            hidden_at=utcnow(),
            data=data,
        )
    )
    await session.flush()


async def keeps_media(session: AsyncSession, account_id: int, media_id: int) -> bool:
    """Whether an attachment belongs to a held post in the hold archive (so it must stay)."""
    return media_id in await kept_media(session, account_id)


async def kept_media(session: AsyncSession, account_id: int) -> set[int]:
    """The attachments of `account_id`'s posts in the hold archive that a hold still covers
    (the account's own, or the hold of the group a post was in)."""
    own = await is_held(session, account_id)
    held = set((await session.scalars(held_ids())).all())
    kept: set[int] = set()
    for data in await session.scalars(
        select(HeldStatus.data).where(HeldStatus.account_id == account_id)
    ):
        if own or data.get("audience_id") in held:
            kept.update(int(i) for i in data.get("media_ids") or [])
    return kept
