"""Stream events: what committed changes mean for the people listening.

Actions record facts inside their transaction — a status entered home feeds (`posted`), was
edited (`edited`) or is about to be deleted (`removing`), a notification was written
(`notified`) — and the database hands them to `Publisher` once the transaction has committed,
so a change that rolls back announces nothing. A message carries an event name and an id,
never a rendered status: the listening process checks for every listener again that its
viewer may see it, so a channel chosen too broadly cannot leak a post. A status's `update` and
`status.update` are read and rendered once per process for all the listeners the message
woke, and only what differs per viewer (the admission check, marks, poll votes, filters) is
worked out per viewer, for all of them in a few statements (web.status_events); other events
are rendered per listener.

Channels: `home:<account>`, `notifications:<account>`, `direct:<account>`, `list:<list>`,
`public`, `public:local`, `public:remote` (each also with `:media`), `hashtag:<tag>` and
`hashtag:local:<tag>`. A delete names the channels the status went to, as known before it went.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from dataclasses import dataclass

import orjson
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.account import Account
from models.broker import Broker, Published
from models.db import Database, after_commit
from models.notification import Notification
from models.status import MediaAttachment, Mention, Status, StatusTag, Tag
from models.timeline import FeedEntry, ListAccount

log = logging.getLogger("flurfunk.events")

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


@dataclass(frozen=True)
class Message:
    """What travels on a channel: `update`, `status.update`, `delete`, `notification` or
    `conversation`, and the id of the status or notification; `filters_changed` and the
    id of the account whose filters changed; or `revoked` and the id of an access token."""

    event: str
    id: int
    name: str = ""  # `announcement.reaction`: the reaction's name

    def encode(self) -> bytes:
        data = {"event": self.event, "id": str(self.id)}
        if self.name:
            data["name"] = self.name
        return orjson.dumps(data)

    @classmethod
    def decode(cls, raw: bytes) -> Message | None:
        try:
            data = orjson.loads(raw)
            return cls(str(data["event"]), int(data["id"]), str(data.get("name") or ""))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            return None


# --- facts, recorded inside the transaction -----------------------------------------------


@dataclass(frozen=True)
class Posted:
    status_id: int
    home: tuple[int, ...]  # the local feeds it entered
    # Its other channels, when the poster worked them out in its transaction: then nothing
    # is read again after the commit (None: read them once it has committed).
    broadcast: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Edited:
    status_id: int


@dataclass(frozen=True)
class Removed:
    status_id: int
    channels: tuple[str, ...]


@dataclass(frozen=True)
class Notified:
    notification_id: int
    account_id: int


@dataclass(frozen=True)
class FiltersChanged:
    account_id: int


@dataclass(frozen=True)
class TokenRevoked:
    token_id: int


@dataclass(frozen=True)
class AnnouncementFact:
    """An announcement shown to this node's staff changed: `announcement` (new or edited),
    `announcement.delete`, or `announcement.reaction` with the reaction's name."""

    event: str
    announcement_id: int
    name: str = ""


ANNOUNCEMENTS = "announcements"  # every local `user` stream listens here


def announcement(session: AsyncSession, event: str, announcement_id: int, name: str = "") -> None:
    after_commit(session, AnnouncementFact(event, announcement_id, name))


TOKEN_CHANNELS = "token:"


def access_token(token_id: int) -> str:
    """The channel every stream opened with this token listens on, to end when it is revoked."""
    return f"{TOKEN_CHANNELS}{token_id}"


def posted(
    session: AsyncSession,
    status: Status,
    home_feeds: list[int],
    broadcast: list[str] | None = None,
) -> None:
    known = tuple(broadcast) if broadcast is not None and status.visibility != "direct" else None
    after_commit(session, Posted(status.id, tuple(home_feeds), known))


def edited(session: AsyncSession, status: Status) -> None:
    after_commit(session, Edited(status.id))


def notified(session: AsyncSession, notification: Notification) -> None:
    after_commit(session, Notified(notification.id, notification.account_id))


def filters_changed(session: AsyncSession, account_id: int) -> None:
    """The account's filters changed: its `user` streams hear `filters_changed`."""
    after_commit(session, FiltersChanged(account_id))


def token_revoked(session: AsyncSession, token_id: int) -> None:
    """The token stopped working: streams opened with it end, in every process."""
    after_commit(session, TokenRevoked(token_id))


async def removing(session: AsyncSession, status: Status) -> None:
    """Call before deleting `status`: its audience is worked out while it still exists."""
    channels = [home(a) for a in await _feeds_holding(session, status.id)]
    channels += await broadcast_channels(session, status)
    if status.visibility == "direct":
        channels += [direct(a) for a in await participants(session, status)]
    after_commit(session, Removed(status.id, tuple(dict.fromkeys(channels))))


# --- where a status is heard ---------------------------------------------------------------


async def _feeds_holding(session: AsyncSession, status_id: int) -> list[int]:
    query = select(FeedEntry.account_id).where(FeedEntry.status_id == status_id)
    return list((await session.execute(query)).scalars())


async def broadcast_channels(
    session: AsyncSession,
    status: Status,
    *,
    tags: list[str] | None = None,
    has_media: bool | None = None,
) -> list[str]:
    """Lists that include the author; for public and local-only posts (not boosts) their
    hashtags and, unless they reply to someone else, the public streams. `tags` (names as
    stored) and `has_media`, when the caller knows them, are not read again."""
    if status.visibility == "group":
        return []  # members hear it on their home streams only
    lists = select(ListAccount.list_id).where(ListAccount.account_id == status.account_id)
    list_ids = list((await session.execute(lists)).scalars())
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


async def removing_many(session: AsyncSession, statuses: list[Status]) -> None:
    """`removing` for many statuses at once (the retention sweep): the same channels, read
    with a handful of set-based queries instead of several per status."""
    if not statuses:
        return
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
        after_commit(session, Removed(status.id, tuple(dict.fromkeys(channels))))


async def participants(session: AsyncSession, status: Status) -> list[int]:
    """Local accounts in a direct conversation: the author and the mentioned."""
    mentioned = select(Mention.account_id).where(Mention.status_id == status.id)
    query = select(Account.id).where(
        Account.domain.is_(None),
        (Account.id == status.account_id) | Account.id.in_(mentioned),
    )
    return list((await session.execute(query)).scalars())


def _known_messages(fact: Posted, broadcast: tuple[str, ...]) -> list[Published]:
    """A new post's messages from what its transaction recorded: nothing to read."""
    encoded = Message("update", fact.status_id).encode()
    channels = [home(a) for a in fact.home] + list(broadcast)
    return [(channel, encoded) for channel in dict.fromkeys(channels)]


async def _status_messages(session: AsyncSession, fact: Posted | Edited) -> list[Published]:
    status = await session.get(Status, fact.status_id)
    if status is None:
        return []  # deleted since; its delete event follows
    if isinstance(fact, Posted):
        event, feeds = "update", list(fact.home)
    else:
        event, feeds = "status.update", await _feeds_holding(session, status.id)
    channels = [home(a) for a in feeds] + await broadcast_channels(session, status)
    encoded = Message(event, status.id).encode()
    out = [(channel, encoded) for channel in dict.fromkeys(channels)]
    if isinstance(fact, Posted) and status.visibility == "direct":
        conversation = Message("conversation", status.id).encode()
        out += [(direct(a), conversation) for a in await participants(session, status)]
    return out


class Publisher:
    """The database's `on_commit` hook: turns committed facts into messages on the broker.

    It publishes in the background, one transaction's facts after the other in commit order,
    so that the committing code goes on at once — typically to wake the delivery worker,
    which should not wait for a database read and a broker round trip first.
    """

    def __init__(self, db: Database, broker: Broker) -> None:
        self.db = db
        self.broker = broker
        self._waiting: collections.deque[list[object]] = collections.deque()
        self._publishing: asyncio.Task[None] | None = None

    async def __call__(self, facts: list[object]) -> None:
        self._waiting.append(facts)
        if self._publishing is None:
            self._publishing = asyncio.create_task(self._publish_waiting())

    async def _publish_waiting(self) -> None:
        try:
            while self._waiting:
                facts = self._waiting.popleft()
                try:
                    await self.broker.publish_many(await self.messages(facts))
                except Exception:  # committed already: a lost event must not become an error
                    log.exception("stream events of a committed change were lost")
        finally:
            self._publishing = None

    async def flush(self) -> None:
        """Wait until everything committed so far is published."""
        while self._publishing is not None:
            await asyncio.shield(self._publishing)

    async def messages(self, facts: list[object]) -> list[Published]:
        out: list[Published] = []
        by_status: dict[int, list[Published]] = {}
        statuses: list[Posted | Edited] = []
        for f in facts:
            if isinstance(f, Posted) and f.broadcast is not None:
                by_status[id(f)] = _known_messages(f, f.broadcast)
            elif isinstance(f, Posted | Edited):
                statuses.append(f)
        if statuses:
            async with self.db.read() as session:
                for change in statuses:
                    by_status[id(change)] = await _status_messages(session, change)
        for fact in facts:  # in the order they happened
            if isinstance(fact, Posted | Edited):
                out += by_status[id(fact)]
            elif isinstance(fact, Removed):
                out += [(c, Message("delete", fact.status_id).encode()) for c in fact.channels]
            elif isinstance(fact, Notified):
                message = Message("notification", fact.notification_id).encode()
                out.append((notifications(fact.account_id), message))
            elif isinstance(fact, FiltersChanged):  # the id is the account's: there is no other
                message = Message("filters_changed", fact.account_id).encode()
                out.append((home(fact.account_id), message))
            elif isinstance(fact, AnnouncementFact):
                message = Message(fact.event, fact.announcement_id, fact.name).encode()
                out.append((ANNOUNCEMENTS, message))
            elif isinstance(fact, TokenRevoked):
                message = Message("revoked", fact.token_id).encode()
                out.append((access_token(fact.token_id), message))
        return out


def connect(db: Database, broker: Broker) -> None:
    """Publish the stream events of every write transaction committed through `db`."""
    db.on_commit = Publisher(db, broker)


async def disconnect(db: Database) -> None:
    """Publish what is still waiting, then no more (the process is stopping)."""
    publisher, db.on_commit = db.on_commit, None
    if isinstance(publisher, Publisher):
        await publisher.flush()
