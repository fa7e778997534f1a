"""Federating what local users do: documents assembled from rows, and where they go."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.account import Account
from models.settings import Settings
from models.status import MediaAttachment, Mention, Status, StatusTag, Tag
from outbox import render
from outbox.context import Federation
from outbox.deliveries import enqueue, inbox_of, remote_followers

FEDERATED = ("public", "unlisted", "private", "direct")


async def mentioned_accounts(session: AsyncSession, status_id: int) -> list[Account]:
    rows = await session.execute(
        select(Account)
        .join(Mention, Mention.account_id == Account.id)
        .where(Mention.status_id == status_id)
        .order_by(Account.id)
    )
    return list(rows.scalars())


async def note_document(
    session: AsyncSession, settings: Settings, status: Status
) -> dict[str, Any]:
    """The Note for a (non-boost) status, with its addressing, tags and attachments."""
    author = await session.get(Account, status.account_id)
    assert author is not None
    parent_uri = None
    if status.in_reply_to_id is not None:
        parent = await session.get(Status, status.in_reply_to_id)
        if parent is not None:
            parent_author = await session.get(Account, parent.account_id)
            if parent_author is not None:
                parent_uri = render.status_uri(settings, parent_author, parent)
    tags = list(
        (
            await session.execute(
                select(Tag)
                .join(StatusTag, StatusTag.tag_id == Tag.id)
                .where(StatusTag.status_id == status.id)
                .order_by(Tag.name)
            )
        ).scalars()
    )
    media = list(
        (
            await session.execute(
                select(MediaAttachment)
                .where(MediaAttachment.status_id == status.id)
                .order_by(MediaAttachment.id)
            )
        ).scalars()
    )
    return render.note(
        settings,
        author,
        status,
        parent_uri=parent_uri,
        mentioned=await mentioned_accounts(session, status.id),
        tags=tags,
        media=media,
    )


async def boost_document(
    session: AsyncSession, settings: Settings, boost: Status
) -> dict[str, Any]:
    """The Announce for a boost."""
    booster = await session.get(Account, boost.account_id)
    original = await session.get(Status, boost.reblog_of_id or 0)
    assert booster is not None
    assert original is not None
    original_author = await session.get(Account, original.account_id)
    assert original_author is not None
    to, cc = render.addressing(settings, booster, boost.visibility, [original_author])
    uri = render.status_uri(settings, booster, boost)
    return render.announce(
        uri + "/activity" if boost.local else uri,
        render.actor_uri(settings, booster),
        render.status_uri(settings, original_author, original),
        boost.created_at,
        to,
        cc,
    )


async def send(
    session: AsyncSession,
    fed: Federation | None,
    actor: Account,
    activity: dict[str, Any],
    inboxes: Iterable[str | None],
    *,
    status_id: int | None = None,
) -> int:
    """Queue `activity` by a local actor for `inboxes`, in the caller's transaction.

    A no-op for remote actors (their own server federates what they do) and without
    federation. Call `fed.wake_deliveries()` after the transaction commits.
    """
    if fed is None or not actor.is_local:
        return 0
    return await enqueue(
        session,
        fed.allowlist(),
        actor=actor,
        activity=activity,
        inboxes=inboxes,
        status_id=status_id,
    )


async def status_inboxes(session: AsyncSession, status: Status) -> list[str]:
    """Where a local status (and its edits and deletion) goes.

    Remote followers' shared inboxes for public, unlisted and private posts; mentioned remote
    actors' own inboxes. A direct message goes only to the personal inboxes of those it
    mentions — never to a shared inbox, where the receiving node could fan it out.
    """
    if status.visibility == "local":
        return []
    direct = status.visibility == "direct"
    inboxes: list[str | None] = []
    if not direct:
        inboxes += [inbox_of(f) for f in await remote_followers(session, status.account_id)]
    for account in await mentioned_accounts(session, status.id):
        if not account.is_local:
            inboxes.append(inbox_of(account, personal=direct))
    return sorted({i for i in inboxes if i})
