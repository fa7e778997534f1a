"""Follow, unfollow, follow requests, block and mute: what a local account does to another.

Every action runs inside the caller's write transaction and is idempotent: doing it twice
leaves the same state as doing it once. Rows are inserted with ON CONFLICT DO NOTHING and
deleted with RETURNING, so a counter moves only when a row really appeared or vanished, and
followers_count / following_count stay exact even when two requests race on PostgreSQL.

Delivering Follow, Accept, Undo and Block activities to remote accounts is federation's part;
a follow of a remote account waits as a request until their server accepts it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, exists, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from models.account import Account
from models.relationship import Block, Follow, FollowRequest, Mute
from outbox import feeds
from outbox.notify import notify, withdraw

RelationshipRow = type[Follow] | type[FollowRequest] | type[Block] | type[Mute]


class NotPermitted(Exception):
    """The relationship cannot exist: with oneself, or across a block."""


class NoFollowRequest(LookupError):
    """There is no pending follow request from that account."""


async def _insert_new(session: AsyncSession, model: RelationshipRow, **values: Any) -> bool:
    """Insert a (account, target) row unless one exists; whether it is new."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(model)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["account_id", "target_account_id"])
        .returning(model.id)
    )
    return (await session.execute(statement)).first() is not None


def _pair(model: RelationshipRow, account_id: int, target_id: int) -> Any:
    return and_(model.account_id == account_id, model.target_account_id == target_id)


async def _count(session: AsyncSession, follower_id: int, target_id: int, delta: int) -> None:
    await session.execute(
        update(Account)
        .where(Account.id == follower_id)
        .values(following_count=Account.following_count + delta)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(Account)
        .where(Account.id == target_id)
        .values(followers_count=Account.followers_count + delta)
        .execution_options(synchronize_session=False)
    )


async def blocked_either_way(session: AsyncSession, one: int, other: int) -> bool:
    return bool(
        await session.scalar(
            select(exists().where(or_(_pair(Block, one, other), _pair(Block, other, one))))
        )
    )


def _refuse_self(account: Account, target: Account) -> None:
    if account.id == target.id:
        raise NotPermitted("You cannot do this to yourself")


async def _start_following(
    session: AsyncSession,
    follower_id: int,
    target: Account,
    *,
    show_reblogs: bool,
    notify_posts: bool,
    announce: bool,
) -> None:
    created = await _insert_new(
        session,
        Follow,
        account_id=follower_id,
        target_account_id=target.id,
        show_reblogs=show_reblogs,
        notify=notify_posts,
    )
    if not created:
        return
    await _count(session, follower_id, target.id, +1)
    if announce:
        await notify(session, recipient=target, actor_id=follower_id, type="follow")
    await feeds.backfill(session, follower_id, target.id)


async def _end_follow(session: AsyncSession, follower_id: int, target_id: int) -> bool:
    """Remove a follow with its counters, feed entries and notification; whether one existed."""
    gone = (
        await session.execute(
            delete(Follow).where(_pair(Follow, follower_id, target_id)).returning(Follow.id)
        )
    ).first()
    if gone is None:
        return False
    await _count(session, follower_id, target_id, -1)
    await feeds.remove_author(session, follower_id, target_id)
    await withdraw(session, actor_id=follower_id, type="follow", recipient_id=target_id)
    return True


async def _end_request(
    session: AsyncSession, requester_id: int, target_id: int
) -> tuple[bool, bool] | None:
    """Remove a pending request and its notification; its (show_reblogs, notify), if any."""
    gone = (
        await session.execute(
            delete(FollowRequest)
            .where(_pair(FollowRequest, requester_id, target_id))
            .returning(FollowRequest.show_reblogs, FollowRequest.notify)
        )
    ).first()
    if gone is None:
        return None
    await withdraw(session, actor_id=requester_id, type="follow_request", recipient_id=target_id)
    return bool(gone[0]), bool(gone[1])


async def follow(
    session: AsyncSession,
    follower: Account,
    target: Account,
    *,
    reblogs: bool | None = None,
    notify_posts: bool | None = None,
) -> None:
    """Follow `target`, or ask to when the account is locked (or remote).

    Following again only updates the options given (`reblogs`, `notify_posts`).
    """
    _refuse_self(follower, target)
    if await blocked_either_way(session, follower.id, target.id):
        raise NotPermitted("This action is not allowed")
    options = {
        key: value
        for key, value in (("show_reblogs", reblogs), ("notify", notify_posts))
        if value is not None
    }
    for model in (Follow, FollowRequest):
        existing = await session.scalar(select(model).where(_pair(model, follower.id, target.id)))
        if existing is not None:
            for key, value in options.items():
                setattr(existing, key, value)
            await session.flush()
            return
    show_reblogs = True if reblogs is None else reblogs
    if target.locked or not target.is_local:
        created = await _insert_new(
            session,
            FollowRequest,
            account_id=follower.id,
            target_account_id=target.id,
            show_reblogs=show_reblogs,
            notify=bool(notify_posts),
        )
        if created:
            await notify(session, recipient=target, actor_id=follower.id, type="follow_request")
        return
    await _start_following(
        session,
        follower.id,
        target,
        show_reblogs=show_reblogs,
        notify_posts=bool(notify_posts),
        announce=True,
    )


async def unfollow(session: AsyncSession, follower: Account, target: Account) -> None:
    """Stop following `target`, or withdraw a request that is still pending."""
    await _end_follow(session, follower.id, target.id)
    await _end_request(session, follower.id, target.id)


async def remove_from_followers(session: AsyncSession, account: Account, follower: Account) -> None:
    await _end_follow(session, follower.id, account.id)


async def authorize(session: AsyncSession, account: Account, requester: Account) -> None:
    """Accept a follow request; like Mastodon, no `follow` notification follows the accept."""
    options = await _end_request(session, requester.id, account.id)
    if options is None:
        raise NoFollowRequest("Record not found")
    show_reblogs, notify_posts = options
    await _start_following(
        session,
        requester.id,
        account,
        show_reblogs=show_reblogs,
        notify_posts=notify_posts,
        announce=False,
    )


async def reject(session: AsyncSession, account: Account, requester: Account) -> None:
    if await _end_request(session, requester.id, account.id) is None:
        raise NoFollowRequest("Record not found")


async def authorize_all(session: AsyncSession, account: Account) -> None:
    """An account that stops being locked lets everyone waiting in."""
    waiting = (
        await session.scalars(
            select(Account)
            .join(FollowRequest, FollowRequest.account_id == Account.id)
            .where(FollowRequest.target_account_id == account.id)
        )
    ).all()
    for requester in waiting:
        await authorize(session, account, requester)


async def block(session: AsyncSession, account: Account, target: Account) -> None:
    """Block `target`: follows and requests end both ways, feeds forget each other."""
    _refuse_self(account, target)
    for one, other in ((account.id, target.id), (target.id, account.id)):
        await _end_follow(session, one, other)
        await _end_request(session, one, other)
    await _insert_new(session, Block, account_id=account.id, target_account_id=target.id)


async def unblock(session: AsyncSession, account: Account, target: Account) -> None:
    await session.execute(delete(Block).where(_pair(Block, account.id, target.id)))


async def mute(
    session: AsyncSession,
    account: Account,
    target: Account,
    *,
    notifications: bool = True,
    expires_at: datetime | None = None,
) -> None:
    """Mute `target` (muting again replaces the options); their posts leave the home feed."""
    _refuse_self(account, target)
    existing = await session.scalar(select(Mute).where(_pair(Mute, account.id, target.id)))
    if existing is None:
        await _insert_new(
            session,
            Mute,
            account_id=account.id,
            target_account_id=target.id,
            hide_notifications=notifications,
            expires_at=expires_at,
        )
    else:
        existing.hide_notifications = notifications
        existing.expires_at = expires_at
        await session.flush()
    await feeds.remove_author(session, account.id, target.id)


async def unmute(session: AsyncSession, account: Account, target: Account) -> None:
    await session.execute(delete(Mute).where(_pair(Mute, account.id, target.id)))
