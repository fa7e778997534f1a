"""Archives of one account: the person's own (Mastodon's archive format, prepared in the
background: outbox.personal_archive) and the investigation export (permission `export_data`,
audited: a time range, hidden posts under legal hold included, and a manifest of SHA-256 sums).

Both hold, in a zip:
- `outbox.json`: an OrderedCollection of the account's activities in ActivityStreams JSON —
  Create(Note) for posts (direct messages and `local` posts included), Announce for boosts;
  attachment URLs point at the files inside the zip;
- `actor.json`: the actor document;
- `likes.json` and `bookmarks.json`: OrderedCollections of the URIs of the posts liked and
  bookmarked;
- `media_attachments/…`: the attachment files stored on this node (remote attachments are
  only linked, as they are here).
Investigation exports add `manifest.json` (every other file with its size and SHA-256), and
mark posts hidden under legal hold with `"flurfunk:hidden": {"hidden_at", "deleted_by"}`.

The investigation export of a local group (`collect_group`) has the same files for the
group: `actor.json` is the Group actor, `outbox.json` every post in the group (whoever wrote
it, each with its own author and `audience`: the group) and the group's own activities,
`members.json` its members with their roles; likes and bookmarks stay empty.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.account import Account
from models.base import utcnow
from models.interaction import Bookmark, Favourite
from models.retention import HeldStatus
from models.settings import Settings
from models.status import MediaAttachment, Mention, Status, StatusTag, Tag
from outbox import groups, render, storage

FEDERATED = ("public", "unlisted", "private", "direct")
MEDIA_FOLDER = "media_attachments/"


@dataclass
class Contents:
    """What goes into an archive, before it is written."""

    account: Account
    actor: dict[str, Any]
    activities: list[dict[str, Any]] = field(default_factory=list)
    likes: list[str] = field(default_factory=list)
    bookmarks: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # path in the zip -> media key
    documents: dict[str, Any] = field(default_factory=dict)  # further JSON files by name
    media: storage.Storage | None = None  # where `files` are read from


@dataclass(frozen=True)
class Window:
    since: datetime | None = None
    until: datetime | None = None

    def admits(self, at: datetime) -> bool:
        return (self.since is None or at >= self.since) and (self.until is None or at < self.until)


class _Reader:
    def __init__(self, session: AsyncSession, settings: Settings, contents: Contents) -> None:
        self.session, self.settings, self.contents = session, settings, contents
        self.accounts: dict[int, Account | None] = {contents.account.id: contents.account}

    async def account(self, account_id: int | None) -> Account | None:
        if account_id is None:
            return None
        if account_id not in self.accounts:
            self.accounts[account_id] = await self.session.get(Account, account_id)
        return self.accounts[account_id]

    async def status_uri(self, status_id: int | None) -> str | None:
        if status_id is None:
            return None
        status = await self.session.get(Status, status_id)
        if status is None:
            held = await self.session.get(HeldStatus, status_id)
            return None if held is None else held.data.get("uri")
        author = await self.account(status.account_id)
        return None if author is None else render.status_uri(self.settings, author, status)

    async def media_document(self, media: MediaAttachment) -> dict[str, Any]:
        document = render.document_of(self.settings, media)
        if media.file_path:
            inside = MEDIA_FOLDER + media.file_path
            files = self.contents.media = storage.media(self.settings)
            if await asyncio.to_thread(files.exists, media.file_path):
                self.contents.files[inside] = media.file_path
                document["url"] = inside
        return document

    async def activity(
        self, status: Status, mentions: list[int], tags: list[str], media: list[MediaAttachment]
    ) -> dict[str, Any]:
        author = await self.account(status.account_id) or self.contents.account
        if status.reblog_of_id is not None:
            to, cc = render.addressing(self.settings, author, _addressable(status.visibility), [])
            return render.announce(
                render.status_uri(self.settings, author, status),
                render.actor_uri(self.settings, author),
                await self.status_uri(status.reblog_of_id) or "",
                status.created_at,
                to,
                cc,
            )
        mentioned = [a for a in [await self.account(i) for i in mentions] if a is not None]
        shape = Status(**{**_columns(status), "visibility": _addressable(status.visibility)})
        note = render.note(
            self.settings,
            author,
            shape,
            parent_uri=await self.status_uri(status.in_reply_to_id),
            mentioned=mentioned,
            tags=[Tag(name=t) for t in tags],
            media=[],
        )
        note["attachment"] = [await self.media_document(m) for m in media]
        if status.visibility not in FEDERATED:
            note["to"], note["cc"] = [], []  # a `local` post: never left the node
        note["flurfunk:visibility"] = status.visibility
        group = await self.account(status.audience_id)
        if group is not None:
            note["audience"] = render.actor_uri(self.settings, group)
        return render.create(note)


def _addressable(visibility: str) -> str:
    return visibility if visibility in FEDERATED else "direct"


def _columns(status: Status) -> dict[str, Any]:
    names = (
        "id",
        "account_id",
        "uri",
        "url",
        "local",
        "content",
        "spoiler_text",
        "sensitive",
        "visibility",
        "language",
        "created_at",
        "edited_at",
    )
    return {name: getattr(status, name) for name in names}


async def collect(
    session: AsyncSession,
    settings: Settings,
    account: Account,
    window: Window | None = None,
    *,
    hidden: bool = False,
) -> Contents:
    """Everything of `account` in `window`; with `hidden`, also what the hold archive kept."""
    window = window or Window()
    contents = Contents(account=account, actor=render.person(settings, account))
    reader = _Reader(session, settings, contents)
    await _statuses(session, reader, window, Status.account_id == account.id)
    if hidden:
        await _hidden(session, reader, window, HeldStatus.account_id == account.id)
    contents.likes = await _uris(session, reader, Favourite, account.id, window)
    contents.bookmarks = await _uris(session, reader, Bookmark, account.id, window)
    return contents


async def collect_group(
    session: AsyncSession, settings: Settings, group: Account, window: Window | None = None
) -> Contents:
    """Everything posted in the local group `group` in `window` (posts hidden under legal hold
    included), the group's own activities, and its members."""
    window = window or Window()
    contents = Contents(account=group, actor=render.person(settings, group))
    reader = _Reader(session, settings, contents)
    await _statuses(
        session, reader, window, or_(Status.audience_id == group.id, Status.account_id == group.id)
    )

    def in_group(held: HeldStatus) -> bool:
        return held.account_id == group.id or held.data.get("audience_id") == group.id

    await _hidden(session, reader, window, None, in_group)
    people = await groups.members(session, group.id)
    contents.documents["members.json"] = _collection(
        [
            {
                "id": render.actor_uri(settings, m.account),
                "acct": m.account.acct()
                if m.account.domain
                else f"{m.account.acct()}@{settings.domain}",
                "role": m.role,
            }
            for m in people
        ],
        "members.json",
    )
    return contents


async def _statuses(
    session: AsyncSession, reader: _Reader, window: Window, which: ColumnElement[bool]
) -> None:
    query = select(Status).where(which).order_by(Status.id)
    if window.since is not None:
        query = query.where(Status.created_at >= window.since)
    if window.until is not None:
        query = query.where(Status.created_at < window.until)
    for status in list((await session.scalars(query)).all()):
        mentions = list(
            await session.scalars(select(Mention.account_id).where(Mention.status_id == status.id))
        )
        tags = list(
            await session.scalars(
                select(Tag.name)
                .join(StatusTag, StatusTag.tag_id == Tag.id)
                .where(StatusTag.status_id == status.id)
            )
        )
        media = list(
            await session.scalars(
                select(MediaAttachment)
                .where(MediaAttachment.status_id == status.id)
                .order_by(MediaAttachment.id)
            )
        )
        reader.contents.activities.append(await reader.activity(status, mentions, tags, media))


async def _hidden(
    session: AsyncSession,
    reader: _Reader,
    window: Window,
    rows: ColumnElement[bool] | None,
    which: Callable[[HeldStatus], bool] = lambda held: True,
) -> None:
    """The posts in the hold archive that `rows` (SQL) and `which` (on the row) select."""
    query = select(HeldStatus).order_by(HeldStatus.id)
    if rows is not None:
        query = query.where(rows)
    if window.since is not None:
        query = query.where(HeldStatus.created_at >= window.since)
    if window.until is not None:
        query = query.where(HeldStatus.created_at < window.until)
    for held in list((await session.scalars(query)).all()):
        if not which(held) or not window.admits(held.created_at):
            continue
        data = held.data
        edited = data.get("edited_at")
        audience = data.get("audience_id")
        status = Status(
            id=held.id,
            account_id=held.account_id,
            audience_id=int(audience) if audience is not None else None,
            uri=data.get("uri"),
            url=data.get("url"),
            local=bool(data.get("local", True)),
            content=str(data.get("content") or ""),
            spoiler_text=str(data.get("spoiler_text") or ""),
            sensitive=bool(data.get("sensitive")),
            visibility=str(data.get("visibility") or "public"),
            language=data.get("language"),
            in_reply_to_id=data.get("in_reply_to_id"),
            reblog_of_id=data.get("reblog_of_id"),
            created_at=held.created_at,
            edited_at=datetime.fromisoformat(edited) if edited else None,
        )
        media_ids = [int(i) for i in data.get("media_ids") or []]
        media = (
            list(
                await session.scalars(
                    select(MediaAttachment)
                    .where(MediaAttachment.id.in_(media_ids))
                    .order_by(MediaAttachment.id)
                )
            )
            if media_ids
            else []
        )
        mentions = [int(i) for i in data.get("mentions") or []]
        activity = await reader.activity(status, mentions, list(data.get("tags") or []), media)
        activity["flurfunk:hidden"] = {
            "hidden_at": render.when(held.hidden_at),
            "deleted_by": data.get("deleted_by", "author"),
        }
        reader.contents.activities.append(activity)
    reader.contents.activities.sort(key=lambda a: str(a.get("published") or ""))


async def _uris(
    session: AsyncSession,
    reader: _Reader,
    model: type[Favourite] | type[Bookmark],
    account_id: int,
    window: Window,
) -> list[str]:
    query = select(model.status_id, model.created_at).where(model.account_id == account_id)
    found: list[str] = []
    for status_id, created_at in (await session.execute(query.order_by(model.id))).all():
        if window.admits(created_at):
            uri = await reader.status_uri(status_id)
            if uri:
                found.append(uri)
    return found


def _collection(items: list[Any], name: str) -> dict[str, Any]:
    return render.with_context(
        {"id": name, "type": "OrderedCollection", "totalItems": len(items), "orderedItems": items}
    )


def write(contents: Contents, path: Path, *, manifest: dict[str, Any] | None = None) -> int:
    """Write the zip at `path`; with `manifest` (extra fields), add manifest.json listing every
    other file with its size and SHA-256. Returns the zip's size in bytes. Blocks (files, and
    the media storage): call it in a worker thread."""
    documents = {
        "outbox.json": _collection(contents.activities, "outbox.json"),
        "actor.json": contents.actor,
        "likes.json": _collection(contents.likes, "likes.json"),
        "bookmarks.json": _collection(contents.bookmarks, "bookmarks.json"),
        **contents.documents,
    }
    listed: list[dict[str, Any]] = []
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, document in documents.items():
            data = json.dumps(document, ensure_ascii=False, indent=1).encode()
            archive.writestr(name, data)
            listed.append(_entry(name, data))
        for inside, key in sorted(contents.files.items()):
            assert contents.media is not None
            source = contents.media.open(key)
            if source is None:
                continue  # removed since it was listed (the post was deleted meanwhile)
            digest, size = hashlib.sha256(), 0
            with source as stream, archive.open(inside, "w") as target:
                while chunk := stream.read(1 << 20):
                    digest.update(chunk)
                    size += len(chunk)
                    target.write(chunk)
            listed.append({"path": inside, "size": size, "sha256": digest.hexdigest()})
        if manifest is not None:
            summary = {**manifest, "created_at": render.when(utcnow()), "files": listed}
            archive.writestr("manifest.json", json.dumps(summary, ensure_ascii=False, indent=1))
    return path.stat().st_size


def _entry(name: str, data: bytes) -> dict[str, Any]:
    return {"path": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
