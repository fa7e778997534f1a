"""Notifications for local accounts, written in the transaction of the action causing them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, delete, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.account import Account
from models.base import utcnow
from models.notification import Notification
from models.notification_groups import GroupKey
from models.personal import ConversationMute, DomainBlock, NotificationPolicy
from models.relationship import Block, Follow, Mute, mute_in_force
from models.status import Status
from outbox import events
from outbox.push_subscriptions import queue_pushes


async def notify(
    session: AsyncSession,
    *,
    recipient: Account,
    actor_id: int,
    type: str,
    status_id: int | None = None,
) -> Notification | None:
    """Notify `recipient` (if local) that `actor_id` did `type`, unless blocked or muted, the
    actor's node is blocked by the recipient, or the status's thread is muted by them."""
    if not recipient.is_local or recipient.id == actor_id:
        return None
    silenced = await session.scalar(
        select(
            exists().where(
                or_(
                    and_(Block.account_id == recipient.id, Block.target_account_id == actor_id),
                    and_(Block.account_id == actor_id, Block.target_account_id == recipient.id),
                )
            )
            | exists().where(
                Mute.account_id == recipient.id,
                Mute.target_account_id == actor_id,
                Mute.hide_notifications.is_(True),
                mute_in_force(),
            )
            | exists().where(
                Account.id == actor_id,
                Account.domain.in_(
                    select(DomainBlock.domain).where(DomainBlock.account_id == recipient.id)
                ),
            )
            | exists().where(
                ConversationMute.account_id == recipient.id,
                ConversationMute.thread_id
                == select(func.coalesce(Status.thread_id, Status.id))
                .where(Status.id == status_id)
                .scalar_subquery(),
            )
        )
    )
    if silenced or await _dropped_by_policy(session, recipient.id, actor_id, type, status_id):
        return None
    row = Notification(
        account_id=recipient.id, from_account_id=actor_id, type=type, status_id=status_id
    )
    session.add(row)
    await session.flush()
    events.notified(session, row)
    await queue_pushes(session, row)
    return row


NEW_ACCOUNT = timedelta(days=30)  # Mastodon's "new account" for the notification policy


async def _dropped_by_policy(
    session: AsyncSession, recipient_id: int, actor_id: int, type: str, status_id: int | None
) -> bool:
    """Whether the recipient's notification policy says "drop" for this sender.

    Moderation notifications always arrive; "filter" is never stored, so only "drop" acts.
    """
    policy = await session.get(NotificationPolicy, recipient_id)
    if policy is None or type.startswith("admin."):
        return False

    async def follows(follower: int, followed: int) -> bool:
        found = await session.scalar(
            select(Follow.id).where(
                Follow.account_id == follower, Follow.target_account_id == followed
            )
        )
        return found is not None

    if policy.for_not_following == "drop" and not await follows(recipient_id, actor_id):
        return True
    if policy.for_not_followers == "drop" and not await follows(actor_id, recipient_id):
        return True
    if policy.for_new_accounts == "drop":
        created = await session.scalar(select(Account.created_at).where(Account.id == actor_id))
        if created is not None and created > utcnow() - NEW_ACCOUNT:
            return True
    if policy.for_private_mentions == "drop" and type == "mention" and status_id is not None:
        visibility = await session.scalar(select(Status.visibility).where(Status.id == status_id))
        if visibility == "direct" and not await follows(recipient_id, actor_id):
            return True
    return False


async def withdraw(
    session: AsyncSession,
    *,
    actor_id: int,
    type: str,
    status_id: int | None = None,
    recipient_id: int | None = None,
) -> None:
    """Remove notifications of an action that was undone (unfavourite, unfollow, …)."""
    query = delete(Notification).where(
        Notification.from_account_id == actor_id, Notification.type == type
    )
    if status_id is not None:
        query = query.where(Notification.status_id == status_id)
    if recipient_id is not None:
        query = query.where(Notification.account_id == recipient_id)
    await session.execute(query)


async def dismiss(session: AsyncSession, account_id: int, notification_id: int) -> bool:
    """Remove one of the account's notifications; whether there was one."""
    removed = await session.execute(
        delete(Notification)
        .where(Notification.id == notification_id, Notification.account_id == account_id)
        .returning(Notification.id)
    )
    return removed.first() is not None


async def dismiss_group(session: AsyncSession, account_id: int, key: GroupKey) -> bool:
    """Remove every notification of one group of the account's; whether there was one."""
    removed = await session.execute(
        delete(Notification)
        .where(Notification.account_id == account_id, key.condition)
        .returning(Notification.id)
    )
    return bool(removed.all())


async def clear(session: AsyncSession, account_id: int) -> None:
    await session.execute(delete(Notification).where(Notification.account_id == account_id))


async def notify_boosters(session: AsyncSession, status: Status) -> None:
    """An `update` notification to every local account that boosted an edited status."""
    boosters = (
        await session.execute(
            select(Account).where(
                Account.id.in_(select(Status.account_id).where(Status.reblog_of_id == status.id)),
                Account.domain.is_(None),
            )
        )
    ).scalars()
    await withdraw(session, actor_id=status.account_id, type="update", status_id=status.id)
    for booster in list(boosters):
        await notify(
            session,
            recipient=booster,
            actor_id=status.account_id,
            type="update",
            status_id=status.id,
        )
