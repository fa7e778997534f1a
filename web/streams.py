"""Mastodon's streams: which exist, who may open them, and what one listener is sent.

A stream (`user`, `public:local`, `hashtag` with a tag, …) listens to broker channels
(outbox.stream_channels) for messages (outbox.events). Each message names a status or a
notification; before it is sent, it is checked for the listener with the conditions of the
timeline the stream mirrors — the home feed, the public, hashtag and list timelines, direct
messages — and rendered for that viewer.
So visibility, blocks, mutes and hosts removed from the allowlist hold on streams exactly as
on timelines, even where a channel reaches more listeners than should see a post. Statuses
(`update`, `status.update`) are rendered for all the listeners of one message at once, with
the same checks (web.status_events).

Public and hashtag streams are open without a token, as the public timelines are (and as
Mastodon does by default); anonymous listeners see public posts only, never local-only ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Select, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from federation import values
from federation.values import InvalidValue
from models.announcement import Announcement, AnnouncementMark
from models.base import utcnow
from models.notification import Notification
from models.status import Mention, Status, StatusTag, Tag
from models.timeline import List, ListAccount
from models.visibility import not_blocked_either_way, not_held, visible_to
from outbox import announcement_reads, events, stream_channels
from web import status_events
from web.api import conversations, filtering, serializers
from web.api.announcements import entity as announcement_entity
from web.api.hosts import account_admitted, hidden_domains, status_admitted
from web.api.timelines import (
    home_query,
    not_a_reply_to_others,
    replies_allowed,
    shown_to,
    with_media,
)
from web.auth import Caller, scope_allows
from web.node import Node

PUBLIC = frozenset(
    f"public{origin}{media}" for origin in ("", ":local", ":remote") for media in ("", ":media")
)
HASHTAG = frozenset(("hashtag", "hashtag:local"))
PERSONAL = frozenset(("user", "user:notification", "list", "direct"))
STREAMS = PUBLIC | HASHTAG | PERSONAL
NO_PAYLOAD = "undefined"  # what Mastodon sends as the data of an event without one


class StreamError(Exception):
    """A stream that cannot be opened; `status` as an HTTP status (400, 401, 403, 404)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Viewer:
    """Who listens: a token's caller, or nobody (anonymous public streams)."""

    caller: Caller | None = None

    @property
    def account_id(self) -> int | None:
        account = self.caller.account if self.caller else None
        return account.id if account else None

    def may(self, scope: str) -> bool:
        return self.caller is not None and scope_allows(self.caller.scopes, scope)

    @property
    def revocation(self) -> tuple[str, ...]:
        """The channel that announces this viewer's token revoked (the stream then ends)."""
        return (stream_channels.access_token(self.caller.token.id),) if self.caller else ()


@dataclass(frozen=True)
class Stream:
    name: str
    key: tuple[str, ...]  # what WebSocket frames name: ("hashtag", "cats"), ("user",)
    channels: tuple[str, ...]


def tag_of(params: Mapping[str, Any]) -> str:
    tag = str(params.get("tag") or "").strip().lstrip("#").lower()
    if not tag:
        raise StreamError(400, "Missing tag name parameter")
    return tag


def list_of(params: Mapping[str, Any]) -> int:
    text = str(params.get("list") or "").strip()
    if not text:
        raise StreamError(400, "Missing list name parameter")
    try:
        return values.row_id(text)
    except InvalidValue:
        raise StreamError(404, "Record not found") from None


def key_of(name: str, params: Mapping[str, Any]) -> tuple[str, ...]:
    """The stream's key for WebSocket frames and unsubscribe messages."""
    if name in HASHTAG:
        return (name, tag_of(params))
    if name == "list":
        return (name, str(list_of(params)))
    return (name,)


def _authorize(viewer: Viewer, name: str) -> int | None:
    """Public streams need nothing; the others a user's token with Mastodon's scopes."""
    if name not in PERSONAL:
        return viewer.account_id
    if viewer.caller is None:
        raise StreamError(401, "Missing access token")
    account_id = viewer.account_id
    if account_id is None:
        raise StreamError(422, "This method requires an authenticated user")
    needed = "read:notifications" if name == "user:notification" else "read:statuses"
    if not viewer.may(needed):
        raise StreamError(403, "This action is outside the authorized scopes")
    return account_id


async def open_stream(
    session: AsyncSession, viewer: Viewer, name: str, params: Mapping[str, Any]
) -> Stream:
    """Stream `name` with its parameters (`tag`, `list`) for `viewer`; StreamError if not."""
    if name not in STREAMS:
        raise StreamError(400, "Unknown stream type")
    account_id = _authorize(viewer, name)
    key = key_of(name, params)
    if name in PUBLIC:
        return Stream(name, key, (name,))
    if name in HASHTAG:
        return Stream(name, key, (stream_channels.hashtag(key[1], local=name == "hashtag:local"),))
    assert account_id is not None
    if name == "list":
        owned = await session.get(List, int(key[1]))
        if owned is None or owned.account_id != account_id:
            raise StreamError(404, "Record not found")
        return Stream(name, key, (stream_channels.list_channel(owned.id),))
    if name == "direct":
        return Stream(name, key, (stream_channels.direct(account_id),))
    channels = [] if name == "user:notification" else [stream_channels.home(account_id)]
    if name == "user":  # as Mastodon: announcements reach every signed-in user's stream
        channels.append(stream_channels.ANNOUNCEMENTS)
    if viewer.may("read:notifications"):  # as Mastodon: `user` carries them only with scope
        channels.append(stream_channels.notifications(account_id))
    return Stream(name, key, tuple(channels))


# --- what one listener sees -------------------------------------------------------------------


def _own(channel: str, prefix: str, viewer_id: int | None) -> bool:
    return viewer_id is not None and channel == f"{prefix}{viewer_id}"


def _broadcast(channel: str, viewer_id: int | None, status_id: int) -> Select[Status]:
    """The public and hashtag timelines' conditions, for one status."""
    tag: str | None = None
    if channel.startswith("hashtag:local:"):
        tag, local, remote, media = channel.removeprefix("hashtag:local:"), True, False, False
    elif channel.startswith("hashtag:"):
        tag, local, remote, media = channel.removeprefix("hashtag:"), False, False, False
    else:
        parts = channel.split(":")[1:]
        local, remote, media = "local" in parts, "remote" in parts, "media" in parts
    visibilities = ["public"] if viewer_id is None or remote else ["public", "local"]
    query = select(Status).where(
        Status.id == status_id,
        Status.visibility.in_(visibilities),
        Status.reblog_of_id.is_(None),
        not_held(viewer_id),
        shown_to(viewer_id),
    )
    if local:
        query = query.where(Status.local.is_(True))
    elif remote:
        query = query.where(Status.local.is_(False))
    if tag is not None:
        return query.where(
            exists(
                select(StatusTag.status_id)
                .join(Tag, Tag.id == StatusTag.tag_id)
                .where(StatusTag.status_id == Status.id, Tag.name == tag)
            )
        )
    query = query.where(not_a_reply_to_others())
    return query.where(with_media()) if media else query


async def _list_query(
    session: AsyncSession, channel: str, viewer_id: int | None, status_id: int
) -> Select[Status] | None:
    owned = await session.get(List, int(channel.removeprefix("list:")))
    if owned is None or viewer_id is None or owned.account_id != viewer_id:
        return None
    members = select(ListAccount.account_id).where(ListAccount.list_id == owned.id)
    return select(Status).where(
        Status.id == status_id,
        Status.account_id.in_(members),
        visible_to(viewer_id),
        shown_to(viewer_id),
        replies_allowed(owned, members),
    )


def _direct_query(viewer_id: int, status_id: int) -> Select[Status]:
    mentioned = exists(
        select(Mention.status_id).where(
            Mention.status_id == Status.id, Mention.account_id == viewer_id
        )
    )
    return select(Status).where(
        Status.id == status_id,
        Status.visibility == "direct",
        or_(Status.account_id == viewer_id, mentioned),
        not_held(viewer_id),
        shown_to(viewer_id),
    )


async def admitted_status(
    session: AsyncSession,
    channel: str,
    viewer_id: int | None,
    status_id: int,
    hidden: frozenset[str],
) -> Status | None:
    """The status, if the timeline behind `channel` would show it to the viewer now."""
    query: Select[*tuple[Any, ...]] | None = None
    if channel.startswith(("public", "hashtag:")):
        query = _broadcast(channel, viewer_id, status_id)
    elif channel.startswith("list:"):
        query = await _list_query(session, channel, viewer_id, status_id)
    elif viewer_id is not None and _own(channel, "home:", viewer_id):
        query = home_query(viewer_id).where(Status.id == status_id)
    elif viewer_id is not None and _own(channel, "direct:", viewer_id):
        query = _direct_query(viewer_id, status_id)
    if query is None:
        return None
    row = (await session.execute(query.where(status_admitted(hidden)))).first()
    if row is None:
        return None
    status: Status = row[-1]
    return status


async def _notification(
    session: AsyncSession, node: Node, viewer_id: int, notification_id: int
) -> dict[str, Any] | None:
    """As GET /api/v1/notifications would show it."""
    query = (
        select(Notification)
        .outerjoin(Status, Status.id == Notification.status_id)
        .where(
            Notification.id == notification_id,
            Notification.account_id == viewer_id,
            or_(Notification.status_id.is_(None), visible_to(viewer_id)),
            not_blocked_either_way(viewer_id, Notification.from_account_id.expression),
        )
    )
    hidden = await hidden_domains(node)
    if hidden:
        query = query.where(
            account_admitted(hidden, Notification.from_account_id.expression),
            or_(Notification.status_id.is_(None), status_admitted(hidden)),
        )
    row = (await session.execute(query)).scalars().first()
    if row is None:
        return None
    items = await serializers.notifications(session, node.links(), [row], viewer_id)
    return items[0] if items else None


async def _conversation(
    session: AsyncSession, node: Node, viewer_id: int, status: Status
) -> dict[str, Any]:
    """Mastodon's Conversation, as /api/v1/conversations shows it, with this status last."""
    thread = status.thread_id or status.id
    (conversation,) = await conversations.present(
        session, node.links(), viewer_id, [(thread, status.id)]
    )
    return conversation


async def announcement_event(
    node: Node, viewer_id: int, message: events.Message
) -> tuple[str, str] | None:
    """`announcement` (the entity, for this viewer), `announcement.reaction` or
    `announcement.delete`, as Mastodon sends them on the user stream."""
    if message.event == "announcement.delete":
        return message.event, str(message.id)
    async with node.db.read() as session:
        row = await session.get(Announcement, message.id)
        now = utcnow()
        if row is None or not announcement_reads.shown_here(row, node.settings.domain.lower(), now):
            return None
        if not await announcement_reads.shown_to(session, row, viewer_id):
            return None
        counted = (await announcement_reads.reactions(session, [row.id], viewer_id)).get(row.id, [])
        if message.event == "announcement.reaction":
            count = next((r.count for r in counted if r.name == message.name), 0)
            data = {"name": message.name, "count": count, "announcement_id": str(row.id)}
            return message.event, orjson.dumps(data).decode()
        mark = await session.get(AnnouncementMark, (row.id, viewer_id))
        read = mark is not None and mark.read_at is not None
        return message.event, orjson.dumps(announcement_entity(row, read, counted)).decode()


async def render(node: Node, viewer: Viewer, channel: str, raw: bytes) -> tuple[str, str] | None:
    """(event, data) for the listener, or None when the viewer is not to see it."""
    message = events.Message.decode(raw)
    if message is None:
        return None
    if message.event == "delete":
        return "delete", str(message.id)  # a bare id: there is nothing left to check
    viewer_id = viewer.account_id
    if message.event.startswith("announcement"):
        if channel != stream_channels.ANNOUNCEMENTS or viewer_id is None:
            return None
        return await announcement_event(node, viewer_id, message)
    if message.event == "filters_changed":  # for the account's own `user` stream only
        return ("filters_changed", NO_PAYLOAD) if _own(channel, "home:", viewer_id) else None
    if message.event in status_events.EVENTS:  # rendered once for all its listeners here
        return await status_events.render(node, viewer, channel, message.event, message.id)
    async with node.db.read() as session:
        payload: dict[str, Any] | None
        if message.event == "notification":
            if not _own(channel, "notifications:", viewer_id):
                return None
            assert viewer_id is not None
            payload = await _notification(session, node, viewer_id, message.id)
        else:
            hidden = await hidden_domains(node)
            status = await admitted_status(session, channel, viewer_id, message.id, hidden)
            if status is None:
                return None
            if message.event == "conversation":
                assert viewer_id is not None
                payload = await _conversation(session, node, viewer_id, status)
            else:
                rendered = await serializers.statuses(session, node.links(), [status], viewer_id)
                payload = rendered[0]
        if payload is not None:
            payload = await filtering.streamed(session, viewer_id, channel, message.event, payload)
    if payload is None:
        return None
    return message.event, orjson.dumps(payload).decode()
