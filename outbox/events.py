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

Which channels a message goes to, and their names, is outbox.stream_channels's business.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from dataclasses import dataclass

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from models.broker import Broker, Published
from models.db import Database, after_commit
from models.notification import Notification
from models.status import Status
from outbox.stream_channels import (
    ANNOUNCEMENTS,
    access_token,
    broadcast_channels,
    direct,
    feeds_holding,
    home,
    notifications,
    participants,
    removal_channels,
    removal_channels_many,
)

log = logging.getLogger("flurfunk.events")


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


def announcement(session: AsyncSession, event: str, announcement_id: int, name: str = "") -> None:
    after_commit(session, AnnouncementFact(event, announcement_id, name))


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
    after_commit(session, Removed(status.id, await removal_channels(session, status)))


async def removing_many(session: AsyncSession, statuses: list[Status]) -> None:
    """`removing` for many statuses at once (the retention sweep)."""
    heard = await removal_channels_many(session, statuses)
    for status in statuses:
        after_commit(session, Removed(status.id, heard[status.id]))


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
        event, feeds = "status.update", await feeds_holding(session, status.id)
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
