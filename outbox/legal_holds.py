"""Legal holds: while an account is held, nothing of it is erased here.

Retention skips its posts (they stay as they are); a post it deletes itself, or that a
moderator or a Delete from its own node removes, is hidden instead: copied into the hold
archive (models.retention.HeldStatus, with its attachments' rows and files kept) before the
normal deletion takes it out of every timeline, API and federation view and federates the
Delete as usual. The investigation export (outbox.investigation) reads the archive too.
An account under hold cannot be deleted by an admin; lift the hold first.

Holds name an account (`name` local, `name@host` remote and known here) or a group
(`group:NAME`); groups do not exist on this node yet, so a group hold is refused clearly.
Adding and lifting a hold need `manage_compliance` and go into the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, select
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


@dataclass(frozen=True)
class Hold:
    target: str  # the acct: `name` or `name@host`
    account_id: int
    reason: str
    operator: str
    created_at: datetime


def held_ids() -> Any:
    """The ids of held accounts, as a subquery for `Status.account_id.not_in(...)`."""
    return select(LegalHold.account_id)


async def is_held(session: AsyncSession, account_id: int) -> bool:
    return bool(await session.scalar(select(exists().where(LegalHold.account_id == account_id))))


async def find_account(session: AsyncSession, settings: Settings, target: str) -> Account:
    """The account a hold names: `name` (local) or `name@host` (known here)."""
    text = target.strip().lstrip("@")
    if text.startswith("group:"):
        raise AdminError("groups are not available yet: a hold names an account (NAME[@HOST])")
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
    account = await find_account(session, settings, target)
    if await is_held(session, account.id):
        raise AdminError(f"{account.acct()} is under legal hold already")
    row = LegalHold(account_id=account.id, reason=reason, operator=operator.name)
    session.add(row)
    admin.record(
        session,
        operator.name,
        "hold.add",
        account.acct(),
        reason,
        operator_account_id=operator.account_id,
    )
    await session.flush()
    return Hold(account.acct(), account.id, reason, operator.name, row.created_at)


async def remove_hold(
    session: AsyncSession, settings: Settings, operator: Operator, target: str
) -> Hold:
    require(operator, "manage_compliance")
    account = await find_account(session, settings, target)
    row = await session.scalar(select(LegalHold).where(LegalHold.account_id == account.id))
    if row is None:
        raise UnknownHoldTarget(f"{account.acct()} is not under legal hold")
    hold = Hold(account.acct(), account.id, row.reason, row.operator, row.created_at)
    await session.delete(row)
    admin.record(
        session,
        operator.name,
        "hold.remove",
        account.acct(),
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
        Hold(account.acct(), account.id, hold.reason, hold.operator, hold.created_at)
        for hold, account in rows.all()
    ]


async def preserve(session: AsyncSession, status: Status, by: str) -> None:
    """Copy a held account's post into the hold archive before it is deleted (`by`: who
    deleted it — `author`, `moderation`, `remote`). Its attachments' rows and files stay."""
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
    """Whether an attachment belongs to a post in the hold archive (so it must stay)."""
    if not await is_held(session, account_id):
        return False
    kept = await session.scalars(select(HeldStatus.data).where(HeldStatus.account_id == account_id))
    return any(media_id in (data.get("media_ids") or []) for data in kept)
