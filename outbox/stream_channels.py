"""Stream channels: their names, and which channels a status is heard on.

Channels: `home:<account>`, `notifications:<account>`, `direct:<account>`, `list:<list>`,
`public`, `public:local`, `public:remote` (each also with `:media`), `hashtag:<tag>` and
`hashtag:local:<tag>`; `announcements` for every local `user` stream and `token:<token>` for
the streams opened with a token. A delete names the channels the status went to, as known
before it went. Which of these messages a listener may see is decided where it listens
(web.streams); the events published on them are outbox.events's business.
"""

from __future__ import annotations

import collections

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.account import Account
from models.status import MediaAttachment, Mention, Status, StatusTag, Tag
from models.timeline import FeedEntry, ListAccount

BROADCAST = ("public", "local")  # visibilities shown on public and hashtag streams


def home(account_id: int) -> str:
    return f"home:{account_id}"


def notifications(account_id: int) -> str:
    return f"notifications:{account_id}"


def direct(account_id: int) -> str:
    return f"direct:{account_id}"


def list_channel(list_id: int) -> str:
    return f"list:{list_id}"


def hashtag(name: str, *, local: bool = False) -> str:
    return f"hashtag:local:{name}" if local else f"hashtag:{name}"


ANNOUNCEMENTS = "announcements"  # every local `user` stream listens here

TOKEN_CHANNELS = "token:"


def access_token(token_id: int) -> str:
    """The channel every stream opened with this token listens on, to end when it is revoked."""
    return f"{TOKEN_CHANNELS}{token_id}"


# --- where a status is heard ---------------------------------------------------------------


async def feeds_holding(session: AsyncSession, status_id: int) -> list[int]:
    """The local accounts whose home feeds hold the status."""
    query = select(FeedEntry.account_id).where(FeedEntry.status_id == status_id)
    return list((await session.execute(query)).scalars())


async def broadcast_channels(
    session: AsyncSession,
    status: Status,
    *,
    tags: list[str] | None = None,
    has_media: bool | None = None,
    lists: list[int] | None = None,
) -> list[str]:
    """Lists that include the author; for public and local-only posts (not boosts) their
    hashtags and, unless they reply to someone else, the public streams. `tags` (names as
    stored), `has_media` and `lists` (the author's), when the caller knows them, are not read
    again."""
    if status.visibility == "group":
        return []  # members hear it on their home streams only
    if lists is None:
        lists = await lists_including(session, status.account_id)
    list_ids = lists
    if status.reblog_of_id is not None or status.visibility not in BROADCAST:
        return _broadcast(status, list_ids, [], False)
    if tags is None:
        query = select(Tag.name).join(StatusTag, StatusTag.tag_id == Tag.id)
        tags = list(
            (await session.execute(query.where(StatusTag.status_id == status.id))).scalars()
        )
    if has_media is None:
        has_media = bool(
            await session.scalar(select(exists().where(MediaAttachment.status_id == status.id)))
        )
    return _broadcast(status, list_ids, tags, has_media)


async def lists_including(session: AsyncSession, account_id: int) -> list[int]:
    """The lists that include the account."""
    query = select(ListAccount.list_id).where(ListAccount.account_id == account_id)
    return list((await session.execute(query)).scalars())


def _broadcast(status: Status, list_ids: list[int], tags: list[str], has_media: bool) -> list[str]:
    """`broadcast_channels` from what was read about the status."""
    if status.visibility == "group":
        return []
    channels = [list_channel(i) for i in list_ids]
    if status.reblog_of_id is not None or status.visibility not in BROADCAST:
        return channels
    for name in tags:
        channels.append(hashtag(name))
        if status.local:
            channels.append(hashtag(name, local=True))
    if status.in_reply_to_id is not None and status.in_reply_to_account_id != status.account_id:
        return channels
    for stream in ("public", "public:local" if status.local else "public:remote"):
        channels.append(stream)
        if has_media:
            channels.append(f"{stream}:media")
    return channels


async def removal_channels(session: AsyncSession, status: Status) -> tuple[str, ...]:
    """The channels `status` was heard on; call before deleting it, while it still exists."""
    channels = [home(a) for a in await feeds_holding(session, status.id)]
    channels += await broadcast_channels(session, status)
    if status.visibility == "direct":
        channels += [direct(a) for a in await participants(session, status)]
    return tuple(dict.fromkeys(channels))


async def removal_channels_many(
    session: AsyncSession, statuses: list[Status]
) -> dict[int, tuple[str, ...]]:
    """`removal_channels` for many statuses at once (the retention sweep), by status id: the
    same channels, read with a handful of set-based queries instead of several per status."""
    if not statuses:
        return {}
    ids = [s.id for s in statuses]
    feeds: dict[int, list[int]] = collections.defaultdict(list)
    rows = select(FeedEntry.status_id, FeedEntry.account_id).where(FeedEntry.status_id.in_(ids))
    for status_id, account_id in (await session.execute(rows)).all():
        feeds[status_id].append(account_id)
    authors = {s.account_id for s in statuses}
    lists: dict[int, list[int]] = collections.defaultdict(list)
    rows = select(ListAccount.account_id, ListAccount.list_id).where(
        ListAccount.account_id.in_(authors)
    )
    for account_id, list_id in (await session.execute(rows)).all():
        lists[account_id].append(list_id)
    tags: dict[int, list[str]] = collections.defaultdict(list)
    named = (
        select(StatusTag.status_id, Tag.name)
        .join(Tag, Tag.id == StatusTag.tag_id)
        .where(StatusTag.status_id.in_(ids))
    )
    for status_id, name in (await session.execute(named)).all():
        tags[status_id].append(name)
    with_media = set(
        (
            await session.execute(
                select(MediaAttachment.status_id).where(MediaAttachment.status_id.in_(ids))
            )
        ).scalars()
    )
    dms = [s.id for s in statuses if s.visibility == "direct"]
    talking: dict[int, list[int]] = collections.defaultdict(list)
    if dms:
        rows = (
            select(Mention.status_id, Account.id)
            .join(Account, Account.id == Mention.account_id)
            .where(Mention.status_id.in_(dms), Account.domain.is_(None))
        )
        for status_id, account_id in (await session.execute(rows)).all():
            talking[status_id].append(account_id)
    local = set(
        (
            await session.execute(
                select(Account.id).where(Account.id.in_(authors), Account.domain.is_(None))
            )
        ).scalars()
    )
    heard: dict[int, tuple[str, ...]] = {}
    for status in statuses:
        channels = [home(a) for a in feeds[status.id]]
        channels += _broadcast(
            status, lists[status.account_id], tags[status.id], status.id in with_media
        )
        if status.visibility == "direct":
            people = ([status.account_id] if status.account_id in local else []) + talking[
                status.id
            ]
            channels += [direct(a) for a in people]
        heard[status.id] = tuple(dict.fromkeys(channels))
    return heard


async def participants(session: AsyncSession, status: Status) -> list[int]:
    """Local accounts in a direct conversation: the author and the mentioned."""
    mentioned = select(Mention.account_id).where(Mention.status_id == status.id)
    query = select(Account.id).where(
        Account.domain.is_(None),
        (Account.id == status.account_id) | Account.id.in_(mentioned),
    )
    return list((await session.execute(query)).scalars())
