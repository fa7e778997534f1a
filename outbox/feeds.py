"""Home feeds, fanned out on write: a status enters the feeds of those who should see it.

Who: the author (if local), local followers of the author (for public, unlisted, private and
local posts; a boost only where the follow shows boosts), and local mentioned accounts
(direct and any other mention); for a post in a group, the group's local members (and for a
members-only post nobody else but the author). Accounts that block the author or mute them
get nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import and_, delete, exists, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.account import Account
from models.relationship import Block, Follow, Mute, mute_in_force
from models.status import GROUP_ONLY, Mention, Status
from models.timeline import FeedEntry
from outbox import events

BACKFILL = 40  # statuses of a newly followed account copied into the follower's feed


async def fan_out(
    session: AsyncSession,
    status: Status,
    *,
    audience: str = "all",
    author: Account | None = None,
    mentioned: Iterable[Account] | None = None,
    broadcast: list[str] | None = None,
    followers: list[int] | None = None,
    shunning: set[int] | None = None,
) -> list[int]:
    """Write feed entries for a new status; returns the ids of the local feeds it entered.

    Every new status passes here, so here it is recorded for the stream events. `audience`:
    "author" alone (a post held by a compliance watch term), or the "others" once released.
    `author` and `mentioned`, when the caller has them (posting does), spare reading them again;
    `broadcast`, its other stream channels (stream_channels.broadcast_channels), spares reading the
    status again after the commit to work them out. `followers` (`local_followers` of the
    author; not for a boost) and `shunning` (`shunning` the author), when the caller has them
    (the inbox, for a batch of posts by one author), are not read again either.
    """
    if status.reblog_of_id is not None:
        followers = None  # only those who see the author's boosts
    targets = await _feed_targets(session, status, audience, author, mentioned, followers, shunning)
    events.posted(session, status, targets, broadcast)
    return targets


async def _feed_targets(
    session: AsyncSession,
    status: Status,
    audience: str,
    author: Account | None,
    mentioned: Iterable[Account] | None,
    followers: list[int] | None = None,
    shunning: set[int] | None = None,
) -> list[int]:
    recipients: set[int] = set()
    if author is None or author.id != status.account_id:
        author = await session.get(Account, status.account_id)
    if author is not None and author.is_local and audience != "others":
        recipients.add(author.id)
    if audience == "author":
        return await _insert_entries(session, status, sorted(recipients))
    if status.audience_id is not None:  # a group post: the group's members here
        members = (
            select(Follow.account_id)
            .join(Account, Account.id == Follow.account_id)
            .where(Follow.target_account_id == status.audience_id, Account.domain.is_(None))
        )
        recipients.update((await session.execute(members)).scalars())
    if status.visibility != GROUP_ONLY:
        if status.visibility != "direct" and followers is not None:
            recipients.update(followers)
        elif status.visibility != "direct":
            follower_query = (
                select(Follow.account_id)
                .join(Account, Account.id == Follow.account_id)
                .where(Follow.target_account_id == status.account_id, Account.domain.is_(None))
            )
            if status.reblog_of_id is not None:
                follower_query = follower_query.where(Follow.show_reblogs.is_(True))
            recipients.update((await session.execute(follower_query)).scalars())
        if mentioned is not None:
            recipients.update(a.id for a in mentioned if a.domain is None)
        else:
            recipients.update(
                (
                    await session.execute(
                        select(Mention.account_id)
                        .join(Account, Account.id == Mention.account_id)
                        .where(Mention.status_id == status.id, Account.domain.is_(None))
                    )
                ).scalars()
            )
    if audience == "others" and author is not None:
        recipients.discard(author.id)
    return await _write(session, status, recipients, shunning)


async def local_followers(session: AsyncSession, account_id: int) -> list[int]:
    """The local accounts that follow `account_id`."""
    query = (
        select(Follow.account_id)
        .join(Account, Account.id == Follow.account_id)
        .where(Follow.target_account_id == account_id, Account.domain.is_(None))
    )
    return list((await session.execute(query)).scalars())


async def shunning(session: AsyncSession, author_id: int) -> set[int]:
    """The accounts that block `author_id` or mute it for now: their feeds get none of its posts."""
    query = (
        select(Block.account_id)
        .where(Block.target_account_id == author_id)
        .union(select(Mute.account_id).where(Mute.target_account_id == author_id, mute_in_force()))
    )
    return set((await session.execute(query)).scalars())


async def _write(
    session: AsyncSession, status: Status, recipients: set[int], shunned: set[int] | None = None
) -> list[int]:
    """Feed entries for `recipients`, but not for those who block or mute the author
    (`shunned`, when the caller has them)."""
    if not recipients:
        return []
    if shunned is None:
        shunned = set(
            (
                await session.execute(
                    select(Block.account_id)
                    .where(
                        Block.target_account_id == status.account_id,
                        Block.account_id.in_(recipients),
                    )
                    .union(
                        select(Mute.account_id).where(
                            Mute.target_account_id == status.account_id,
                            Mute.account_id.in_(recipients),
                            mute_in_force(),
                        )
                    )
                )
            ).scalars()
        )
    targets = sorted(recipients - shunned)
    if status.reblog_of_id is not None:
        targets = await _skip_own_and_seen(session, status, targets)
    return await _insert_entries(session, status, targets)


async def _insert_entries(session: AsyncSession, status: Status, targets: list[int]) -> list[int]:
    if targets:
        await session.execute(
            insert(FeedEntry),
            [
                {"account_id": t, "status_id": status.id, "author_id": status.account_id}
                for t in targets
            ],
        )
    return targets


async def _skip_own_and_seen(session: AsyncSession, boost: Status, targets: list[int]) -> list[int]:
    """A boost does not show the original to its author or to someone who has it already."""
    original = await session.get(Status, boost.reblog_of_id)
    if original is None:
        return []
    already = set(
        (
            await session.execute(
                select(FeedEntry.account_id).where(
                    FeedEntry.account_id.in_(targets),
                    FeedEntry.status_id.in_(
                        select(Status.id).where(
                            (Status.id == original.id) | (Status.reblog_of_id == original.id)
                        )
                    ),
                )
            )
        ).scalars()
    )
    return [
        t
        for t in targets
        if t == boost.account_id or (t not in already and t != original.account_id)
    ]


async def backfill(session: AsyncSession, follower_id: int, target_id: int) -> None:
    """After a follow, bring the target's recent visible statuses into the follower's feed."""
    follower = await session.get(Account, follower_id)
    if follower is None or not follower.is_local:
        return  # a remote follower reads on its own node
    recent = (
        (
            await session.execute(
                select(Status.id)
                .where(
                    Status.account_id == target_id,
                    Status.visibility.in_(("public", "unlisted", "private", "local")),
                    ~exists(
                        select(FeedEntry.status_id).where(
                            and_(
                                FeedEntry.account_id == follower_id,
                                FeedEntry.status_id == Status.id,
                            )
                        )
                    ),
                )
                .order_by(Status.id.desc())
                .limit(BACKFILL)
            )
        )
        .scalars()
        .all()
    )
    if recent:
        await session.execute(
            insert(FeedEntry),
            [
                {"account_id": follower_id, "status_id": sid, "author_id": target_id}
                for sid in recent
            ],
        )


async def remove_author(session: AsyncSession, account_id: int, author_id: int) -> None:
    """After an unfollow or block, drop the author's posts and boosts from a feed.

    Posts that mention the reader stay: they would have arrived without the follow.
    """
    mentioning = select(Mention.status_id).where(Mention.account_id == account_id)
    await session.execute(
        delete(FeedEntry).where(
            FeedEntry.account_id == account_id,
            FeedEntry.author_id == author_id,
            FeedEntry.status_id.not_in(mentioning),
        )
    )
