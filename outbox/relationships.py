"""Follow, unfollow, follow requests, block and mute: what a local account does to another.

Every action runs inside the caller's write transaction and is idempotent: doing it twice
leaves the same state as doing it once. Rows are inserted with ON CONFLICT DO NOTHING and
deleted with RETURNING, so a counter moves only when a row really appeared or vanished, and
followers_count / following_count stay exact even when two requests race on PostgreSQL.

With federation (`fed`), what a local account does to a remote one is queued as an activity
in the same transaction (outbox.relationship_activities). The inbox calls the same actions with
remote actors when their activities arrive: those send nothing, except the answer a local
account owes (an unlocked account accepts a remote Follow at once). A follow of a remote
account waits as a request until their server accepts it; `uri` carries activity ids (of a
Follow or Block) so that a later Accept, Reject or Undo can name them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, exists, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from models.account import Account
from models.group import Group, GroupRole
from models.relationship import Block, Follow, FollowRequest, Mute
from outbox import feeds
from outbox import relationship_activities as activities
from outbox.context import Federation
from outbox.lists import forget_member
from outbox.notify import notify, withdraw

RelationshipRow = type[Follow] | type[FollowRequest] | type[Block] | type[Mute]


class NotPermitted(Exception):
    """The relationship cannot exist: with oneself, or across a block."""


class NoFollowRequest(LookupError):
    """There is no pending follow request from that account."""


@dataclass(frozen=True)
class _Ended:
    """A follow or follow request that was just removed."""

    row_id: int
    uri: str | None
    show_reblogs: bool
    notify: bool


async def _insert_new(session: AsyncSession, model: RelationshipRow, **values: Any) -> int | None:
    """Insert a (account, target) row unless one exists; the new row's id, or None."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(model)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["account_id", "target_account_id"])
        .returning(model.id)
    )
    row = (await session.execute(statement)).first()
    return None if row is None else int(row[0])


def _pair(model: RelationshipRow, account_id: int, target_id: int) -> Any:
    return and_(model.account_id == account_id, model.target_account_id == target_id)


async def _count(session: AsyncSession, follower_id: int, target_id: int, delta: int) -> None:
    # Rows are updated in id order: when two accounts follow each other at the same moment,
    # opposite orders would deadlock on PostgreSQL.
    changes = sorted(
        [(follower_id, Account.following_count), (target_id, Account.followers_count)],
        key=lambda change: change[0],
    )
    for account_id, column in changes:
        await session.execute(
            update(Account)
            .where(Account.id == account_id)
            .values({column: column + delta})
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
    uri: str | None = None,
) -> int | None:
    """Start a follow; the new Follow row's id (None if it existed)."""
    created = await _insert_new(
        session,
        Follow,
        account_id=follower_id,
        target_account_id=target.id,
        show_reblogs=show_reblogs,
        notify=notify_posts,
        uri=uri,
    )
    if created is None:
        return None
    await _count(session, follower_id, target.id, +1)
    if announce:
        await notify(session, recipient=target, actor_id=follower_id, type="follow")
    await feeds.backfill(session, follower_id, target.id)
    return created


async def _end_follow(session: AsyncSession, follower_id: int, target_id: int) -> _Ended | None:
    """Remove a follow with its counters, feed entries, list memberships and notification;
    what it was. (As on Mastodon, a list holds only accounts its owner follows.)"""
    gone = (
        await session.execute(
            delete(Follow)
            .where(_pair(Follow, follower_id, target_id))
            .returning(Follow.id, Follow.uri, Follow.show_reblogs, Follow.notify)
        )
    ).first()
    if gone is None:
        return None
    await _count(session, follower_id, target_id, -1)
    await feeds.remove_author(session, follower_id, target_id)
    await forget_member(session, follower_id, target_id)
    await withdraw(session, actor_id=follower_id, type="follow", recipient_id=target_id)
    return _Ended(int(gone[0]), gone[1], bool(gone[2]), bool(gone[3]))


async def _end_request(session: AsyncSession, requester_id: int, target_id: int) -> _Ended | None:
    """Remove a pending request and its notification; what it was."""
    gone = (
        await session.execute(
            delete(FollowRequest)
            .where(_pair(FollowRequest, requester_id, target_id))
            .returning(
                FollowRequest.id,
                FollowRequest.uri,
                FollowRequest.show_reblogs,
                FollowRequest.notify,
            )
        )
    ).first()
    if gone is None:
        return None
    await withdraw(session, actor_id=requester_id, type="follow_request", recipient_id=target_id)
    return _Ended(int(gone[0]), gone[1], bool(gone[2]), bool(gone[3]))


async def follow(
    session: AsyncSession,
    follower: Account,
    target: Account,
    *,
    reblogs: bool | None = None,
    notify_posts: bool | None = None,
    fed: Federation | None = None,
    uri: str | None = None,
) -> None:
    """Follow `target`, or ask to when the account is locked (or remote).

    Following again only updates the options given (`reblogs`, `notify_posts`). For a remote
    follower `uri` is the id of their Follow activity.
    """
    _refuse_self(follower, target)
    if await blocked_either_way(session, follower.id, target.id):
        raise NotPermitted("This action is not allowed")
    options: dict[str, bool | str] = {
        key: value
        for key, value in (("show_reblogs", reblogs), ("notify", notify_posts))
        if value is not None
    }
    if uri is not None:
        options["uri"] = uri
    for model in (Follow, FollowRequest):
        existing = await session.scalar(select(model).where(_pair(model, follower.id, target.id)))
        if existing is not None:
            for key, value in options.items():
                setattr(existing, key, value)
            await session.flush()
            if isinstance(existing, Follow):  # a repeated Follow is accepted again (Mastodon)
                await _accept(session, fed, target, follower, existing.uri, existing.id)
            return
    show_reblogs = True if reblogs is None else reblogs
    invited = await _group_admits(session, follower, target)
    if (target.locked and not invited) or not target.is_local:
        await _request(session, fed, follower, target, show_reblogs, bool(notify_posts), uri)
        return
    follow_id = await _start_following(
        session,
        follower.id,
        target,
        show_reblogs=show_reblogs,
        notify_posts=bool(notify_posts),
        announce=True,
        uri=uri,
    )
    if follow_id is not None:
        await _accept(session, fed, target, follower, uri, follow_id)


async def _group_admits(session: AsyncSession, follower: Account, target: Account) -> bool:
    """For a local invite-only group: whether `follower` was invited (the invitation is used
    up; they join at once); anyone else is refused. False for every other account."""
    if not (target.group and target.is_local):
        return False
    rules = await session.get(Group, target.id)
    if rules is None or rules.join_policy != "invite":
        return False
    invitation = await session.get(GroupRole, (target.id, follower.id))
    if invitation is None or invitation.role != "invited":
        raise NotPermitted("This group admits invited members only")
    await session.delete(invitation)
    return True


async def admit(session: AsyncSession, member: Account, target: Account) -> bool:
    """Make `member` follow `target` without asking anyone (a group adding a member, a
    group's owner); whether the follow is new. No activity is sent."""
    await _end_request(session, member.id, target.id)
    created = await _start_following(
        session, member.id, target, show_reblogs=True, notify_posts=False, announce=False
    )
    return created is not None


async def drop_follower(session: AsyncSession, follower: Account, target: Account) -> bool:
    """End a follow or a pending request without any activity; whether there was one."""
    ended = await _end_follow(session, follower.id, target.id)
    request = await _end_request(session, follower.id, target.id)
    return ended is not None or request is not None


async def _request(
    session: AsyncSession,
    fed: Federation | None,
    follower: Account,
    target: Account,
    show_reblogs: bool,
    notify_posts: bool,
    uri: str | None,
) -> None:
    """A follow request; to a remote account it is their server's to accept (a Follow)."""
    request_id = await _insert_new(
        session,
        FollowRequest,
        account_id=follower.id,
        target_account_id=target.id,
        show_reblogs=show_reblogs,
        notify=notify_posts,
        uri=uri,
    )
    if request_id is None:
        return
    await notify(session, recipient=target, actor_id=follower.id, type="follow_request")
    if fed is not None and follower.is_local and not target.is_local:
        follow_uri = activities.follow_uri(fed.settings, follower, request_id)
        await session.execute(
            update(FollowRequest)
            .where(FollowRequest.id == request_id)
            .values(uri=follow_uri)
            .execution_options(synchronize_session=False)
        )
        await activities.follow(session, fed, follower, target, follow_uri)


async def _accept(
    session: AsyncSession,
    fed: Federation | None,
    account: Account,
    follower: Account,
    follow_uri: str | None,
    row_id: int,
) -> None:
    await activities.answer_follow(
        session, fed, account, follower, accept=True, follow_id=follow_uri, row_id=row_id
    )


async def _reject(
    session: AsyncSession,
    fed: Federation | None,
    account: Account,
    follower: Account,
    ended: _Ended,
) -> None:
    await activities.answer_follow(
        session, fed, account, follower, accept=False, follow_id=ended.uri, row_id=ended.row_id
    )


async def unfollow(
    session: AsyncSession, follower: Account, target: Account, *, fed: Federation | None = None
) -> None:
    """Stop following `target`, or withdraw a request that is still pending."""
    for ended in (
        await _end_follow(session, follower.id, target.id),
        await _end_request(session, follower.id, target.id),
    ):
        if ended is not None:
            await activities.undo_follow(session, fed, follower, target, ended.uri)


async def remove_from_followers(
    session: AsyncSession, account: Account, follower: Account, *, fed: Federation | None = None
) -> None:
    """Drop a follower; a remote one's server hears a Reject of their Follow (as Mastodon)."""
    ended = await _end_follow(session, follower.id, account.id)
    if ended is not None:
        await _reject(session, fed, account, follower, ended)


async def authorize(
    session: AsyncSession, account: Account, requester: Account, *, fed: Federation | None = None
) -> None:
    """Accept a follow request; like Mastodon, no `follow` notification follows the accept."""
    ended = await _end_request(session, requester.id, account.id)
    if ended is None:
        raise NoFollowRequest("Record not found")
    await _start_following(
        session,
        requester.id,
        account,
        show_reblogs=ended.show_reblogs,
        notify_posts=ended.notify,
        announce=False,
        uri=ended.uri,
    )
    await _accept(session, fed, account, requester, ended.uri, ended.row_id)


async def reject(
    session: AsyncSession, account: Account, requester: Account, *, fed: Federation | None = None
) -> None:
    ended = await _end_request(session, requester.id, account.id)
    if ended is None:
        raise NoFollowRequest("Record not found")
    await _reject(session, fed, account, requester, ended)


async def authorize_all(
    session: AsyncSession, account: Account, *, fed: Federation | None = None
) -> None:
    """An account that stops being locked lets everyone waiting in."""
    waiting = (
        await session.scalars(
            select(Account)
            .join(FollowRequest, FollowRequest.account_id == Account.id)
            .where(FollowRequest.target_account_id == account.id)
        )
    ).all()
    for requester in waiting:
        await authorize(session, account, requester, fed=fed)


async def block(
    session: AsyncSession,
    account: Account,
    target: Account,
    *,
    fed: Federation | None = None,
    uri: str | None = None,
) -> None:
    """Block `target`: follows and requests end both ways, feeds forget each other.

    A remote target's server hears Undo for our follow and Reject for theirs, then the Block.
    For a remote blocker `uri` is the id of their Block activity.
    """
    _refuse_self(account, target)
    for ended in (
        await _end_follow(session, account.id, target.id),
        await _end_request(session, account.id, target.id),
    ):
        if ended is not None:
            await activities.undo_follow(session, fed, account, target, ended.uri)
    for ended in (
        await _end_follow(session, target.id, account.id),
        await _end_request(session, target.id, account.id),
    ):
        if ended is not None:
            await _reject(session, fed, account, target, ended)
    block_id = await _insert_new(
        session, Block, account_id=account.id, target_account_id=target.id, uri=uri
    )
    if block_id is None or fed is None or not account.is_local or target.is_local:
        return
    block_uri = activities.block_uri(fed.settings, account, block_id)
    await session.execute(
        update(Block)
        .where(Block.id == block_id)
        .values(uri=block_uri)
        .execution_options(synchronize_session=False)
    )
    await activities.block(session, fed, account, target, block_uri)


async def unblock(
    session: AsyncSession, account: Account, target: Account, *, fed: Federation | None = None
) -> None:
    gone = (
        await session.execute(
            delete(Block).where(_pair(Block, account.id, target.id)).returning(Block.uri)
        )
    ).first()
    if gone is not None:
        await activities.undo_block(session, fed, account, target, gone[0])


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
