"""Delete of a status by its author, or of the sending actor itself.

A deleted status goes with its boosts, notifications and feed entries, and the counters it
moved move back. A deleted actor loses everything it had here: statuses, boosts, favourites
and follows both ways; the account stays, suspended, so that nothing it sent earlier and
retries later brings it back.
"""

from __future__ import annotations

from sqlalchemy import delete, select

from inbox.dispatch import Incoming, handles
from inbox.parse import Unusable, uri_of
from inbox.targets import status_by_uri
from models.account import Account
from models.base import utcnow
from models.interaction import Favourite
from models.notification import Notification
from models.relationship import Follow, FollowRequest
from models.status import MediaAttachment, Status
from outbox import interactions, relationships, statuses
from outbox.status_parts import StatusProblem


@handles("Delete")
async def delete_handler(incoming: Incoming) -> None:
    object_uri = uri_of(incoming.object)
    if object_uri is None:
        raise Unusable("the Delete names nothing")
    if object_uri == incoming.actor.uri:
        await remove_actor(incoming)
        return
    status = await status_by_uri(incoming.session, object_uri)
    if status is None:
        return  # never stored (or deleted before)
    if status.account_id != incoming.actor.id:
        raise Unusable("only the author may delete a status")
    await remove_status(incoming, status.id)


async def remove_status(incoming: Incoming, status_id: int) -> None:
    session = incoming.session
    if await session.scalar(select(Status.id).where(Status.id == status_id)) is None:
        return  # went with a status deleted before it
    # Remote files are only linked; their rows have no use without the status.
    await session.execute(delete(MediaAttachment).where(MediaAttachment.status_id == status_id))
    await statuses.delete_status(session, incoming.actor, status_id)


async def remove_actor(incoming: Incoming) -> None:
    session, gone = incoming.session, incoming.actor
    boosts_first = (
        await session.execute(
            select(Status.id)
            .where(Status.account_id == gone.id)
            .order_by(Status.reblog_of_id.is_(None), Status.id)
        )
    ).scalars()
    for status_id in list(boosts_first):
        await remove_status(incoming, status_id)
    liked = (
        await session.execute(select(Favourite.status_id).where(Favourite.account_id == gone.id))
    ).scalars()
    for status_id in list(liked):
        try:
            await interactions.unfavourite(session, gone, status_id)
        except StatusProblem:
            continue  # not visible to them any more; the row goes with the account anyway
    await _end_follows(incoming)
    await session.execute(delete(Notification).where(Notification.from_account_id == gone.id))
    account = await session.get(Account, gone.id)
    if account is not None:
        account.suspended_at = utcnow()


async def _end_follows(incoming: Incoming) -> None:
    session, gone = incoming.session, incoming.actor
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
