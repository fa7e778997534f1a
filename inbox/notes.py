"""Remote notes -> statuses: storing what arrives (Create, an announced note, a reply's parent)
and revising it (Update), with the feeds, counters and notifications that local posts get.

Everything runs in the handler's write transaction, so nothing here may open another one:
actors and parents are fetched over the network and stored in the same session.

A reply's missing ancestors are fetched up to `MAX_DEPTH` levels up; a thread that loops back
on itself is cut where it closes. A parent that cannot be had (too deep, a loop, not
fetchable, refused) never costs the reply: it is kept without its parent link, as Mastodon
keeps a reply whose parent it cannot resolve.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from federation.client import NotAllowed
from inbox import emoji, questions, tombstones
from inbox.dereference import FetchError, fetch_json, store_actor
from inbox.parse import Unusable, actor_fields, authority, first, uri_of
from inbox.parse_notes import ParsedNote, RemoteCard, RemoteMedia, is_note, note_fields
from inbox.targets import (
    account_by_uri,
    author_lists,
    followed_here,
    followers_here,
    forget_looked_up,
    known_tags,
    shunning,
    status_by_uri,
    subscribers_of,
)
from models import remote_file
from models.account import Account
from models.base import utcnow
from models.ids import new_id
from models.preview_card import PreviewCard
from models.search_index import plain_text
from models.status import GROUP_ONLY, MediaAttachment, Mention, Status, Tag
from outbox import events, feeds, group_posts, watch
from outbox.content import MentionTarget
from outbox.context import Federation
from outbox.notify import notify, notify_boosters
from outbox.status_edits import keep_original, snapshot
from outbox.status_parts import notify_subscribers, store_mentions, store_tags
from outbox.statuses import count_new
from outbox.stream_channels import broadcast_channels

log = logging.getLogger("flurfunk.inbox")
MAX_DEPTH = 3  # how many missing ancestors of a reply are fetched, at most
ID_TRIES = 4  # fresh ids drawn for a new status whose back-dated id is taken


def is_ours(fed: Federation, uri: str) -> bool:
    return authority(uri) == authority(fed.settings.public_url)


async def remote_actor(fed: Federation, session: AsyncSession, uri: str) -> Account:
    """The account of a remote actor: as stored, else fetched and stored in this session."""
    account = await account_by_uri(session, uri)
    if account is not None:
        return account
    if is_ours(fed, uri):
        raise Unusable(f"{uri} names no account of this node")
    document = await fetch(fed, uri)
    try:
        fields = actor_fields(document)
    except Unusable as exc:
        raise FetchError(f"{uri}: {exc}") from None
    if authority(fields["uri"]) != authority(uri):
        raise FetchError(f"{uri} answered an actor from another host")
    account = await store_actor(session, fields)
    await emoji.record(session, fed.allowlist(), account.domain, document)
    return account


async def fetch(fed: Federation, uri: str) -> dict[str, Any]:
    """A remote document, never one of ours (we have those, or they do not exist)."""
    if is_ours(fed, uri):
        raise FetchError(f"{uri} is not on this node")
    try:
        return await fetch_json(fed, uri)
    except NotAllowed as exc:
        raise FetchError(str(exc)) from None


async def fetch_note(fed: Federation, uri: str) -> dict[str, Any]:
    """A note fetched from its home: it must be a note, and its id must live where it was
    found (a document cannot vouch for another host's object)."""
    document = await fetch(fed, uri)
    if not is_note(document):
        raise FetchError(f"{uri} is not a note")
    found = document.get("id")
    if not isinstance(found, str) or authority(found) != authority(uri):
        raise FetchError(f"{uri} answered an object from another host")
    return document


async def _named(session: AsyncSession, note: ParsedNote) -> list[Account]:
    """The accounts we know among those the note mentions or addresses, read once: who may
    want the note (the local ones) and whom it mentions are both picked from them."""
    named = {*note.mentions, *note.addressed}
    if not named:
        return []
    rows = await session.execute(
        select(Account).where(or_(Account.uri.in_(named), Account.url.in_(named)))
    )
    return list(rows.scalars())


def _among(accounts: list[Account], names: set[str]) -> list[Account]:
    return [a for a in accounts if a.uri in names or a.url in names]


async def _wanted(
    session: AsyncSession,
    note: ParsedNote,
    author: Account,
    parent: Status | None,
    named: list[Account],
) -> bool:
    """Kept when someone here follows the author, is addressed or mentioned, or when it
    replies to a status stored here; other unsolicited posts are dropped."""
    if parent is not None or any(a.domain is None for a in named):
        return True
    return await followed_here(session, author.id)


async def _parent(
    fed: Federation, session: AsyncSession, note: ParsedNote, depth: int, lineage: frozenset[str]
) -> Status | None:
    """The status replied to: stored, or fetched with its own ancestors (within `depth`);
    None when it cannot be had. `lineage` holds the notes below it being stored right now:
    a parent among them closes a loop."""
    uri = note.in_reply_to
    parent = await status_by_uri(session, uri)
    if parent is not None or uri is None or depth <= 0 or uri in lineage:
        return parent
    try:
        document = await fetch_note(fed, uri)
        async with session.begin_nested():  # a parent that fails to store leaves nothing
            return await store_note(
                fed, session, document, depth=depth - 1, solicited=True, lineage=lineage
            )
    except (FetchError, Unusable, IntegrityError, DataError) as exc:
        log.info("%s is kept without its parent %s: %s", note.uri, uri, exc)
        forget_looked_up(session)  # rows looked up or made in the savepoint may be gone
        return None


async def store_note(
    fed: Federation,
    session: AsyncSession,
    note_document: object,
    *,
    depth: int = MAX_DEPTH,
    solicited: bool = False,
    activity: dict[str, Any] | None = None,
    lineage: frozenset[str] = frozenset(),
) -> Status | None:
    """Store a remote note once (by its id); None when nobody here wants it.

    `solicited` stores it regardless (the parent of a stored reply, a note announced by
    someone followed here). `lineage`: the replies below this note that are being stored.
    """
    note = note_fields(note_document, activity=activity)
    existing = await status_by_uri(session, note.uri)
    if existing is not None:
        return existing
    if await tombstones.deleted(session, note.uri):
        return None  # its Delete was processed first
    if note.uri in lineage:
        raise Unusable("the thread loops back to this note")
    if authority(note.uri) != authority(note.author_uri):
        raise Unusable("the note and its author live on different hosts")
    author = await remote_actor(fed, session, note.author_uri)
    if author.is_local or author.suspended_at is not None:
        raise Unusable("the note's author cannot post here")
    known_parent = await status_by_uri(session, note.in_reply_to)
    if known_parent is not None and known_parent.visibility == "local":
        # Nobody elsewhere can have seen a local-only post (models.visibility), nor reply to it.
        raise Unusable("the note replies to a local-only post")
    named = await _named(session, note)
    if not solicited and not await _wanted(session, note, author, known_parent, named):
        return None
    parent = known_parent or await _parent(fed, session, note, depth, lineage | {note.uri})
    if parent is not None and known_parent is None:
        named = await _named(session, note)  # storing the parent may have stored one of them
    audience = await _audience(session, note_document)
    inserted = await _insert(session, note, author, parent, note_document, audience)
    if inserted is None:
        return await status_by_uri(session, note.uri)  # counted by whoever stored it
    status, tags = inserted
    await count_new(session, author, status, parent)
    await emoji.record(session, fed.allowlist(), author.domain, note_document)
    mentioned = await _store_mentions(session, status, note, named=named)
    for account in mentioned:
        await notify(
            session, recipient=account, actor_id=author.id, type="mention", status_id=status.id
        )
    # Who hears it, from what was just written: nothing is read back after the commit.
    broadcast = await broadcast_channels(
        session,
        status,
        tags=[t.name for t in tags],
        has_media=bool(note.media),
        lists=await author_lists(session, author.id),
    )
    await feeds.fan_out(
        session,
        status,
        author=author,
        mentioned=mentioned,
        broadcast=broadcast,
        followers=await followers_here(session, author.id),
        shunning=await shunning(session, author.id),
    )
    await notify_subscribers(session, status, await subscribers_of(session, author.id))
    await watch.watch_remote(session, status, plain_text(status.content or ""))
    return status


async def _audience(session: AsyncSession, document: object) -> Account | None:
    """The known group a note is posted in (FEP-1b12 `audience`); unknown ones are not fetched:
    a group that nobody here belongs to changes nothing here."""
    if not isinstance(document, dict):
        return None
    account = await account_by_uri(session, uri_of(first(document.get("audience"))))
    return account if account is not None and account.group else None


async def _insert(
    session: AsyncSession,
    note: ParsedNote,
    author: Account,
    parent: Status | None,
    document: object,
    audience: Account | None = None,
) -> tuple[Status, list[Tag]] | None:
    """The new status with its tags, media and poll; None when the note was stored since we
    looked (on PostgreSQL two stores of a new note race, and the second INSERT waits on the
    first one's uri until that commits)."""
    published = note.published or utcnow()
    # Whatever the sender's view of the group (stale, or hostile), a members-only group's
    # posts stay with its members here and on every node this one relays them to.
    public_group = audience is not None and await group_posts.is_public(session, audience)
    fields = dict(
        account_id=author.id,
        uri=note.uri,
        url=note.url or note.uri,
        local=False,
        text=note.text,
        content_type="text/html",
        content=note.content,
        spoiler_text=note.spoiler_text,
        sensitive=note.sensitive,
        visibility=_visibility(note, author, audience, public_group),
        audience_id=audience.id if audience else None,
        language=note.language,
        in_reply_to_id=parent.id if parent else None,
        in_reply_to_account_id=parent.account_id if parent else None,
        thread_id=(parent.thread_id or parent.id) if parent else None,
        created_at=published,
        edited_at=note.updated,
    )
    for attempt in range(1, ID_TRIES + 1):
        # Back-dated to its publication (to the second, as most servers send it): the id's
        # low bits are random, so a burst of notes from one second can draw the same id.
        status = Status(id=new_id(at_ms=int(published.timestamp() * 1000)), **fields)
        try:
            async with session.begin_nested():  # a savepoint: the outer transaction survives
                session.add(status)
            break
        except IntegrityError:
            if await status_by_uri(session, note.uri) is not None:
                return None
            if attempt == ID_TRIES:
                raise
    tags = await store_tags(session, status.id, note.hashtags, known=known_tags(session))
    for media in note.media:
        session.add(_attachment(author.id, status.id, media))
    await remote_file.want(session, [m.remote_url for m in note.media])
    if note.card is not None:  # a new status has no card to replace
        await keep_card(session, status, note.card)
    questions.add_poll(session, status, document)
    await session.flush()
    return status, tags


async def keep_card(session: AsyncSession, status: Status, card: RemoteCard | None) -> bool:
    """Store the link preview a note carries (replacing another); whether anything changed."""
    old = await session.scalar(select(PreviewCard).where(PreviewCard.status_id == status.id))
    if card is None:
        if old is None:
            return False
        await session.execute(delete(PreviewCard).where(PreviewCard.id == old.id))
        return True
    fields = {f.name: getattr(card, f.name) for f in dataclasses.fields(card)}
    if old is not None:
        if all(getattr(old, k) == v for k, v in fields.items()):
            return False
        await session.execute(delete(PreviewCard).where(PreviewCard.id == old.id))
        await session.flush()
    session.add(PreviewCard(status_id=status.id, fetched_at=utcnow(), **fields))
    await remote_file.want(session, [card.image_url])
    await session.flush()
    return True


def _visibility(
    note: ParsedNote, author: Account, audience: Account | None, public_group: bool
) -> str:
    """As addressed; a post in a group is for the group's members only unless both the
    post and the group are public."""
    visibility = note.visibility(author.followers_url)
    if audience is not None and (visibility not in ("public", "unlisted") or not public_group):
        return GROUP_ONLY
    return visibility


def _attachment(account_id: int, status_id: int, media: RemoteMedia) -> MediaAttachment:
    return MediaAttachment(
        account_id=account_id,
        status_id=status_id,
        type=media.type,
        content_type=media.content_type,
        remote_url=media.remote_url,
        description=media.description,
        blurhash=media.blurhash,
        meta=media.meta,
        file_name=media.file_name,
        file_size=media.file_size or 0,
    )


async def _store_mentions(
    session: AsyncSession,
    status: Status,
    note: ParsedNote,
    *,
    skip: set[int] | None = None,
    named: list[Account] | None = None,
) -> list[Account]:
    """Mentioned accounts we know; for private and direct notes also the local accounts
    addressed without a mention tag (as Mastodon's silent mentions), so that they may read it.
    `named`: the accounts `_named` found for the note, when the caller has them."""
    names = set(note.mentions)
    if status.visibility in ("private", "direct"):
        names |= note.addressed
    if not names:
        return []
    if named is not None:
        accounts: Iterable[Account] = _among(named, names)
    else:
        accounts = (
            await session.execute(
                select(Account).where(or_(Account.uri.in_(names), Account.url.in_(names)))
            )
        ).scalars()
    targets = [MentionTarget(a.id, a.username, a.url or a.uri or "") for a in accounts]
    return await store_mentions(session, status.id, targets, skip=skip or set())


# --- updates ---------------------------------------------------------------------------


def _same_media(old: list[MediaAttachment], new: tuple[RemoteMedia, ...]) -> bool:
    return [(m.remote_url, m.description) for m in old] == [
        (m.remote_url, m.description) for m in new
    ]


async def revise_note(session: AsyncSession, status: Status, note_document: object) -> bool:
    """Apply an Update of a stored remote note; whether anything changed.

    Like a local edit: the first revision keeps the original, every revision is kept for
    /history, and local accounts who boosted it are told. A revision older than the one
    stored (by `updated`) changes nothing.
    """
    note = note_fields(note_document)
    if note.uri != status.uri:
        raise Unusable("the update names another note")
    if note.updated and status.edited_at and note.updated < status.edited_at:
        return False  # an older revision, retried after a newer one had arrived
    await questions.refresh_poll(session, status, note_document)  # new counts are no edit
    old_media = list(
        (
            await session.execute(
                select(MediaAttachment)
                .where(MediaAttachment.status_id == status.id)
                .order_by(MediaAttachment.id)
            )
        ).scalars()
    )
    card_changed = await keep_card(session, status, note.card)
    if (
        note.content == status.content
        and note.spoiler_text == status.spoiler_text
        and note.sensitive == status.sensitive
        and _same_media(old_media, note.media)
    ):
        if card_changed:  # the preview arrived after the post: no edit, but show it
            events.edited(session, status)
        return card_changed
    await keep_original(session, status, [m.id for m in old_media])
    status.text, status.content = note.text, note.content
    status.spoiler_text, status.sensitive = note.spoiler_text, note.sensitive
    status.language = note.language or status.language
    status.edited_at = note.updated or utcnow()
    media_ids = await _replace_media(session, status, old_media, note.media)
    session.add(snapshot(status, media_ids))
    await session.flush()
    await _refresh_mentions(session, status, note)
    await store_tags(session, status.id, note.hashtags, replace=True)
    await notify_boosters(session, status)
    await watch.watch_remote(session, status, plain_text(status.content or ""))
    events.edited(session, status)
    return True


async def _replace_media(
    session: AsyncSession,
    status: Status,
    old: list[MediaAttachment],
    new: tuple[RemoteMedia, ...],
) -> list[int]:
    """Keep attachments that stay (by URL), add new ones; dropped ones stay for /history."""
    by_url = {m.remote_url: m for m in old}
    kept: list[int] = []
    for media in new:
        row = by_url.pop(media.remote_url, None)
        if row is None:
            row = _attachment(status.account_id, status.id, media)
            session.add(row)
            await remote_file.want(session, [media.remote_url])
            await session.flush()
        else:
            row.description = media.description
            row.file_name, row.file_size = media.file_name, media.file_size or 0
        kept.append(row.id)
    for dropped in by_url.values():
        dropped.status_id = None
    return kept


async def _refresh_mentions(session: AsyncSession, status: Status, note: ParsedNote) -> None:
    """Mentions as the new revision has them; who could read a private or direct note keeps
    it, and only the newly mentioned are notified."""
    before = set(
        (
            await session.execute(select(Mention.account_id).where(Mention.status_id == status.id))
        ).scalars()
    )
    keep = before if status.visibility in ("private", "direct") else set()
    await session.execute(
        delete(Mention).where(Mention.status_id == status.id, Mention.account_id.not_in(keep))
    )
    for account in await _store_mentions(session, status, note, skip=keep):
        if account.id not in before:
            await notify(
                session,
                recipient=account,
                actor_id=status.account_id,
                type="mention",
                status_id=status.id,
            )
