"""Media attachments: verify an upload, store it (outbox.storage: DATA_DIR/media or S3), record it.

Images are decoded and re-encoded without metadata (outbox.images); other files must be of a
type on the list in outbox.filetypes and are stored as sent, under an extension chosen from
their verified type. Each attachment lives in `attachments/<id>/<random>/`, so the URLs of
unattached or private media cannot be guessed from ids. Files are written before the row and
removed again if the row cannot be written, so neither is left without the other.
"""

from __future__ import annotations

import asyncio
import math
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import utcnow
from models.db import Database
from models.ids import new_id
from models.settings import Settings
from models.status import MediaAttachment
from outbox import legal_holds, storage
from outbox.filetypes import FileTypeError, image_type, is_image, sniff, sniff_kind
from outbox.images import UNREADABLE_IMAGE, CleanImage, ImageError, clean_image

MiB = 1024 * 1024
MAX_DESCRIPTION = 1500
HEAD = 8192
# Types whose processing happens after the answer (202): a PDF's first page is rendered in
# a separate process (outbox.media_processing), which may take seconds.
PROCESSED_LATER = frozenset({"application/pdf"})


class MediaError(ValueError):
    """An upload or change that is refused; the message is fit for the client."""


class MediaTooLarge(MediaError):
    """A file over its kind's size limit (413)."""


def size_limit(settings: Settings, kind: str) -> int:
    """The largest file of a Mastodon attachment type; audio counts as video."""
    if kind == "image":
        return settings.media_max_bytes_image
    if kind in ("video", "audio", "gifv"):
        return settings.media_max_bytes_video
    return settings.media_max_bytes_document


def largest_upload(settings: Settings) -> int:
    return max(size_limit(settings, kind) for kind in ("image", "video", "unknown"))


def allowed(settings: Settings, mime: str) -> bool:
    return not settings.media_types or mime in settings.media_types


def _readable_size(size: int) -> str:
    return f"{size / MiB:.1f} MB" if size >= MiB else f"{size / 1024:.0f} KB"


def clean_file_name(name: str) -> str | None:
    """The name as people see it: no folders, no control characters, at most 255 characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(ch for ch in base if ch.isprintable()).strip()
    return text[:255] or None


@dataclass(frozen=True)
class Upload:
    stream: BinaryIO
    content_type: str
    filename: str


@dataclass(frozen=True)
class Attributes:
    """What the uploader says about a file: its description and focal point."""

    description: str | None
    focus: dict[str, float] | None

    def apply(self, media: MediaAttachment) -> None:
        if self.description is not None:
            media.description = self.description or None
        if self.focus is not None:
            media.focus = f"{self.focus['x']},{self.focus['y']}"
            media.meta = {**(media.meta or {}), "focus": self.focus}


def parse_focus(value: str) -> dict[str, float]:
    """`"x,y"` with both in [-1, 1] (0,0 is the centre) -> the `meta.focus` object."""
    x_text, sep, y_text = value.partition(",")
    try:
        x, y = float(x_text), float(y_text)
    except ValueError:
        x = y = math.nan
    if not sep or not (-1 <= x <= 1 and -1 <= y <= 1):
        raise MediaError("Validation failed: focus must be x,y with both between -1.0 and 1.0")
    return {"x": x, "y": y}


def attributes(description: str | None = None, focus: str | None = None) -> Attributes:
    """Checked attributes (None: leave unchanged); statuses use this for edits of attached media."""
    if description is not None and len(description) > MAX_DESCRIPTION:
        raise MediaError(
            f"Validation failed: Description is too long (maximum is {MAX_DESCRIPTION} characters)"
        )
    point = parse_focus(focus) if focus is not None and focus.strip() else None
    return Attributes(description, point)


# --- files -----------------------------------------------------------------------------


@dataclass
class StoredFile:
    id: int
    type: str
    mime: str
    file_path: str
    preview_path: str | None
    size: int
    meta: dict[str, Any]
    blurhash: str | None


def _measure(stream: BinaryIO) -> tuple[int, bytes]:
    stream.seek(0, 2)
    size = stream.tell()
    stream.seek(0)
    head = stream.read(HEAD)
    stream.seek(0)
    return size, head


def _check_size(settings: Settings, size: int, kind: str) -> None:
    limit = size_limit(settings, kind)
    if size > limit:
        what = {"image": "images", "video": "video and audio", "audio": "video and audio"}
        raise MediaTooLarge(
            f"File is too large ({_readable_size(size)}): the limit for "
            f"{what.get(kind, 'documents')} is {_readable_size(limit)}"
        )


def _check_type(settings: Settings, mime: str) -> None:
    if not allowed(settings, mime):
        raise MediaError(f"Validation failed: Files of type {mime} are not allowed on this node")


def _clean(settings: Settings, data: bytes) -> CleanImage:
    try:
        return clean_image(data, settings.media_max_pixels)
    except ImageError as exc:
        raise MediaError(str(exc)) from None


def _store_image(settings: Settings, media_id: int, relative: Path, data: bytes) -> StoredFile:
    clean = _clean(settings, data)
    original = relative / f"original.{clean.ext}"
    small = relative / f"small.{clean.preview_ext}"
    files = storage.media(settings)
    files.put(original.as_posix(), clean.data)
    files.put(small.as_posix(), clean.preview)
    return StoredFile(
        media_id,
        "image",
        clean.mime,
        original.as_posix(),
        small.as_posix(),
        len(clean.data),
        clean.meta,
        clean.blurhash,
    )


def _store_preview(settings: Settings, relative: Path, thumbnail: Upload) -> StoredFile:
    """A custom preview image for audio, video and documents (Mastodon's `thumbnail`)."""
    size, head = _measure(thumbnail.stream)
    _check_size(settings, size, "image")
    if image_type(head) is None:
        raise MediaError("Validation failed: Thumbnail content type is invalid")
    clean = _clean(settings, thumbnail.stream.read())
    # A fresh name each time: a replaced preview must not hide behind a cached URL.
    small = relative / f"small-{secrets.token_hex(4)}.{clean.preview_ext}"
    storage.media(settings).put(small.as_posix(), clean.preview)
    meta = {"small": clean.meta["small"]}
    return StoredFile(0, "image", clean.mime, "", small.as_posix(), 0, meta, clean.blurhash)


def _store(settings: Settings, upload: Upload, thumbnail: Upload | None) -> StoredFile:
    """Verify and write the files of one upload (runs in a worker thread)."""
    size, head = _measure(upload.stream)
    if size == 0:
        raise MediaError("Validation failed: File can't be blank")
    found = image_type(head)
    if found is None and is_image(head, upload.content_type):
        raise MediaError(UNREADABLE_IMAGE)  # sent as a picture, and is none: a broken file
    _check_size(settings, size, "image" if found else sniff_kind(head))
    try:
        kind = None if found else sniff(head, upload.content_type, upload.stream)
    except FileTypeError as exc:
        raise MediaError(str(exc)) from None
    _check_type(settings, kind.mime if kind else str(found))
    media_id = new_id()
    relative = Path("attachments", str(media_id), secrets.token_hex(16))
    try:
        if kind is None:
            return _store_image(settings, media_id, relative, upload.stream.read())
        original = relative / f"original.{kind.ext}"
        storage.media(settings).put(original.as_posix(), upload.stream)
        stored = StoredFile(
            media_id, kind.type, kind.mime, original.as_posix(), None, size, {}, None
        )
        if thumbnail is not None:
            preview = _store_preview(settings, relative, thumbnail)
            stored.preview_path, stored.meta = preview.preview_path, preview.meta
            stored.blurhash = preview.blurhash
        return stored
    except BaseException:
        _remove(settings, relative)
        raise


def _remove(settings: Settings, folder: Path) -> None:
    """Drop every file of an attachment: `folder` is its attachments/<id>/<random>."""
    storage.media(settings).delete_folder(folder.parent.as_posix())


def remove_files(settings: Settings, paths: list[str]) -> None:
    """Remove stored files by their paths under MEDIA_DIR (as a deleted account's `media`):
    an attachment's whole folder goes (original and preview), an avatar or header is one file.
    Call once the deletion committed: a rolled-back one would still need them. Paths that
    could lead outside MEDIA_DIR are skipped. Blocks: call it in a worker thread."""
    files = storage.media(settings)
    for relative in paths:
        if not storage.valid_key(relative):
            continue
        parts = relative.split("/")
        if parts[0] == "attachments" and len(parts) == 4:  # attachments/<id>/<random>/<file>
            files.delete_folder("/".join(parts[:2]))
        else:
            files.delete(relative)


# --- actions ---------------------------------------------------------------------------


async def create_media(
    db: Database,
    settings: Settings,
    account_id: int,
    upload: Upload,
    *,
    description: str | None = None,
    focus: str | None = None,
    thumbnail: Upload | None = None,
) -> MediaAttachment:
    """Store one upload of `account_id`, unattached until a status uses it. A file that
    needs more work (a PDF's preview) is `processing == "queued"` until
    outbox.media_processing has done it."""
    said = attributes(description, focus)  # refused before any work is done
    size, _ = _measure(upload.stream)
    if settings.media_quota_bytes:
        async with db.read() as session:
            _check_quota(settings, await used_bytes(session, account_id), size)
    stored = await asyncio.to_thread(_store, settings, upload, thumbnail)
    later = stored.mime in PROCESSED_LATER and stored.preview_path is None
    media = MediaAttachment(
        id=stored.id,
        account_id=account_id,
        type=stored.type,
        content_type=stored.mime,
        file_path=stored.file_path,
        preview_path=stored.preview_path,
        file_size=stored.size,
        meta=stored.meta,
        blurhash=stored.blurhash,
        file_name=clean_file_name(upload.filename),
        original_bytes=size,
        processing="queued" if later else None,
        processing_due=utcnow() if later else None,
        processing_attempts=0,
    )
    said.apply(media)
    try:
        async with db.write() as session:
            if settings.media_quota_bytes:
                # Again inside the transaction: two uploads at once must not both fit.
                _check_quota(settings, await used_bytes(session, account_id), size)
            session.add(media)
    except BaseException:
        _remove(settings, Path(stored.file_path).parent)
        raise
    return media


async def used_bytes(session: AsyncSession, account_id: int) -> int:
    """What the quota counts: the original bytes of every upload of `account_id` still kept,
    attached or not."""
    total = await session.scalar(
        select(func.coalesce(func.sum(MediaAttachment.original_bytes), 0)).where(
            MediaAttachment.account_id == account_id, MediaAttachment.file_path.is_not(None)
        )
    )
    return int(total or 0)


def _check_quota(settings: Settings, used: int, size: int) -> None:
    quota = settings.media_quota_bytes
    if quota and used + size > quota:
        raise MediaError(
            f"Validation failed: Storage quota exceeded: {_readable_size(used)} of "
            f"{_readable_size(quota)} used, this file needs {_readable_size(size)}"
        )


async def _find(session: AsyncSession, account_id: int, media_id: int) -> MediaAttachment | None:
    query = select(MediaAttachment).where(
        MediaAttachment.id == media_id, MediaAttachment.account_id == account_id
    )
    media: MediaAttachment | None = (await session.execute(query)).scalar_one_or_none()
    return media


async def find_unattached(db: Database, account_id: int, media_id: int) -> MediaAttachment | None:
    """One's own upload that no status uses yet: all that Mastodon lets GET and PUT reach."""
    async with db.read() as session:
        media = await _find(session, account_id, media_id)
    return media if media is not None and media.status_id is None else None


async def update_media(
    db: Database,
    settings: Settings,
    account_id: int,
    media_id: int,
    *,
    description: str | None = None,
    focus: str | None = None,
    thumbnail: Upload | None = None,
) -> MediaAttachment | None:
    """Change an unattached upload; None when `account_id` has no such upload."""
    current = await find_unattached(db, account_id, media_id)
    if current is None:
        return None
    said = attributes(description, focus)
    preview = None
    if thumbnail is not None and current.type != "image" and current.file_path:
        relative = Path(current.file_path).parent
        preview = await asyncio.to_thread(_store_preview, settings, relative, thumbnail)
    replaced = None
    async with db.write() as session:
        media = await _find(session, account_id, media_id)
        if media is None or media.status_id is not None:
            return None
        said.apply(media)
        if preview is not None:
            replaced = media.preview_path
            media.preview_path = preview.preview_path
            media.meta = {**media.meta, **preview.meta}
            media.blurhash = preview.blurhash
    if replaced:
        await asyncio.to_thread(storage.media(settings).delete, replaced)
    return media


async def discard(session: AsyncSession, account_id: int, media_ids: list[int]) -> list[str]:
    """Delete the rows of `account_id`'s unattached uploads (those of a post just deleted
    with `delete_media`), except what a legal hold keeps; returns their files, for the
    caller to remove once the transaction has committed."""
    if not media_ids:
        return []
    kept = await legal_holds.kept_media(session, account_id)
    gone = await session.execute(
        delete(MediaAttachment)
        .where(
            MediaAttachment.id.in_([i for i in media_ids if i not in kept]),
            MediaAttachment.account_id == account_id,
            MediaAttachment.status_id.is_(None),
        )
        .returning(MediaAttachment.file_path)
    )
    return [path for path in gone.scalars() if path]


async def delete_media(db: Database, settings: Settings, account_id: int, media_id: int) -> bool:
    """Delete an unattached upload and its files; MediaError if a status uses it."""
    async with db.write() as session:
        media = await _find(session, account_id, media_id)
        if media is None:
            return False
        if media.status_id is not None:
            raise MediaError("Media attachment is currently used by a status")
        if await legal_holds.keeps_media(session, account_id, media_id):
            raise MediaError("Media attachment is kept under legal hold")
        await session.delete(media)
    if media.file_path:
        await asyncio.to_thread(_remove, settings, Path(media.file_path).parent)
    return True
