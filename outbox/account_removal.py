"""Removing what an account had on this node: for a remote actor that was deleted on its
own node, and for a local account an admin deleted (which federates one Delete of the actor;
the nodes that hear it do the same there).

Statuses (boosts first), favourites, follows both ways and the notifications it caused go,
as do its attachments; the counters they moved move back. The account row stays, suspended,
so that its name stays taken and nothing it sent earlier and retries later brings it back.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.account import Account
from models.base import utcnow
from models.interaction import Favourite
from models.notification import Notification
from models.relationship import Follow, FollowRequest
from models.status import MediaAttachment, Status
from outbox import interactions, legal_holds, relationships, statuses
from outbox.status_parts import StatusProblem


async def remove_status(
    session: AsyncSession, author: Account, status_id: int, *, by: str = "remote"
) -> None:
    """Delete one status of `author` here, telling nobody elsewhere."""
    status = await session.get(Status, status_id)
    if status is None:
        return  # went with a status deleted before it
    held = await legal_holds.holds_status(session, status)
    # Remote files are only linked: the rows have no use without the post (unless it is held).
    if not author.is_local and not held:
        await session.execute(delete(MediaAttachment).where(MediaAttachment.status_id == status_id))
    await statuses.delete_status(session, author, status_id, by=by)


async def remove_account(session: AsyncSession, gone: Account) -> list[str]:
    """Remove what `gone` had here and suspend it; returns the paths of its media files
    (relative to the media folder), for the caller to delete once the transaction commits."""
    boosts_first = (
        await session.execute(
            select(Status.id)
            .where(Status.account_id == gone.id)
            .order_by(Status.reblog_of_id.is_(None), Status.id)
        )
    ).scalars()
    for status_id in list(boosts_first):
        await remove_status(session, gone, status_id)
    media: list[str] = []
    if not await legal_holds.is_held(session, gone.id):  # held: the hold archive needs them
        kept = await legal_holds.kept_media(session, gone.id)  # posts in a held group
        files = (
            await session.execute(
                delete(MediaAttachment)
                .where(MediaAttachment.account_id == gone.id, MediaAttachment.id.not_in(kept))
                .returning(MediaAttachment.file_path)
            )
        ).scalars()
        media = [path for path in files if path]
    liked = (
        await session.execute(select(Favourite.status_id).where(Favourite.account_id == gone.id))
    ).scalars()
    for status_id in list(liked):
        try:
            await interactions.unfavourite(session, gone, status_id)
        except StatusProblem:
            continue  # not visible to them any more; the row goes with the account anyway
    await _end_follows(session, gone)
    await session.execute(delete(Notification).where(Notification.from_account_id == gone.id))
    account = await session.get(Account, gone.id)
    if account is not None:
        account.suspended_at = account.suspended_at or utcnow()
    return media


def media_folders(paths: list[str]) -> list[Path]:
    """The folders (attachments/<id>) that hold these files and their previews."""
    return sorted({Path(p).parent.parent for p in paths})


async def _end_follows(session: AsyncSession, gone: Account) -> None:
    for model in (Follow, FollowRequest):
        followed = (
            await session.execute(
                select(model.target_account_id).where(model.account_id == gone.id)
            )
        ).scalars()
        for target_id in list(followed):
            target = await session.get(Account, target_id)
            if target is not None:
                await relationships.unfollow(session, gone, target)
        followers = (
            await session.execute(
                select(model.account_id).where(model.target_account_id == gone.id)
            )
        ).scalars()
        for follower_id in list(followers):
            follower = await session.get(Account, follower_id)
            if follower is not None:
                await relationships.unfollow(session, follower, gone)
