"""Copies of remote files (attachments, avatars, headers, link preview images), fetched in the
background and served by this node, so that no browser or app loads another host's URL.

The fetcher claims due rows of models.remote_file (moving `fetch_after` a lease ahead, so that
one process takes each), GETs the file through the allowlisted client within a size and a time
limit, and decides what it is from its bytes: an image is decoded and written again without
its metadata (outbox.images, which also refuses decompression bombs), another file must be of
a type on outbox.filetypes' list and match its leading bytes. A refused host, an oversized or
unknown file is final (`fetch_error`); a timeout or a 5xx is retried with back-off a few times.

It runs in the web processes; the copies are stored in the `remote` area of outbox.storage
(DATA_DIR/remote, or the S3 bucket), where the web processes serve them from.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select

from federation.client import FederationClient, NotAllowed, ResponseTooLarge
from models import remote_file
from models.account import Account
from models.base import utcnow
from models.db import Database
from models.preview_card import PreviewCard
from models.remote_file import FOLDER, RemoteFile
from models.settings import Settings
from models.status import MediaAttachment
from outbox import storage
from outbox.claimed_jobs import DueRows
from outbox.filetypes import FileTypeError, identify
from outbox.images import ImageError, clean_image
from outbox.signing import Signer

log = logging.getLogger("flurfunk.remote_media")
INTERVAL = 1.0  # how often a web process looks for due rows
BATCH = 8
LEASE = timedelta(minutes=2)
DUE = DueRows(RemoteFile.id, RemoteFile.fetch_after, LEASE, BATCH)
TIME_LIMIT = 60.0  # a whole fetch, redirects and a slow body included
MAX_BYTES = 40 << 20
MAX_ATTEMPTS = 5
HEAD = 8192
_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a")


class Refused(Exception):
    """A fetch that will never succeed (kept as the row's error)."""


@dataclass(frozen=True)
class Copy:
    content_type: str
    ext: str
    data: bytes
    meta: dict[str, Any]


def checked(data: bytes, declared: str) -> Copy:
    """What the bytes are, decided from the bytes (runs in a worker thread)."""
    if not data:
        raise Refused("the file is empty")
    head = data[:HEAD]
    if head.startswith(_IMAGE_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        try:
            image = clean_image(data)
        except ImageError as exc:
            raise Refused(str(exc)) from None
        return Copy(image.mime, image.ext, image.data, {**image.meta, "blurhash": image.blurhash})
    try:
        kind = identify(head, declared, "")
    except FileTypeError as exc:
        raise Refused(f"{exc} ({declared[:64] or 'no type'})") from None
    return Copy(kind.mime, kind.ext, data, {})


def folder(settings: Settings) -> Path:
    """DATA_DIR/remote: where the copies are when no S3 bucket is configured."""
    return settings.data_dir / FOLDER


def _write(settings: Settings, key: str, copy: Copy) -> str:
    relative = f"{key[:2]}/{key}-{secrets.token_hex(4)}.{copy.ext}"
    storage.remote(settings).put(relative, copy.data)
    return relative


def _remove(settings: Settings, *relatives: str | None) -> None:
    files = storage.remote(settings)
    for relative in relatives:
        if relative:
            files.delete(relative)


FORGET_EVERY = 600.0  # seconds between two sweeps for copies nothing refers to
FORGET_AFTER = timedelta(hours=1)  # a row younger than this may still be getting its owner
FORGET_BATCH = 500


async def forget_unused(db: Database, settings: Settings) -> int:
    """Drop copies that no attachment, avatar, header or card names any more (a deleted
    post, a changed avatar), rows first, then their files; how many went."""
    old, after, gone = utcnow() - FORGET_AFTER, 0, 0
    while True:
        async with db.write() as session:
            rows = (
                await session.execute(
                    select(RemoteFile.id, RemoteFile.url, RemoteFile.path)
                    .where(RemoteFile.created_at < old, RemoteFile.id > after)
                    .order_by(RemoteFile.id)
                    .limit(FORGET_BATCH)
                )
            ).all()
            if not rows:
                return gone
            after = rows[-1][0]
            urls = {row[1] for row in rows}
            used: set[str | None] = set()
            for column in (
                MediaAttachment.remote_url,
                Account.avatar_remote_url,
                Account.header_remote_url,
                PreviewCard.image_url,
            ):
                found = await session.execute(select(column).where(column.in_(urls)))
                used |= set(found.scalars())
            unused = [(row[0], row[2]) for row in rows if row[1] not in used]
            if unused:
                await session.execute(
                    delete(RemoteFile).where(RemoteFile.id.in_([i for i, _ in unused]))
                )
        await asyncio.to_thread(_remove, settings, *(path for _, path in unused))
        gone += len(unused)


class RemoteMediaFetcher:
    def __init__(
        self,
        db: Database,
        client: FederationClient,
        settings: Settings,
        previews: FederationClient | None = None,
        sign: Signer | None = None,
    ) -> None:
        self.db = db
        self.client = client  # peers on the allowlist
        # Peers serve attachments of posts that are not public only to a signed fetch by a
        # node with a recipient of the post (outbox.media_access), so fetches from them are
        # signed as the instance actor; intranet sites of link previews get no signature.
        self.sign = sign
        self.previews = previews  # also FLURFUNK_PREVIEW_HOSTS, for images of link previews
        self.settings = settings

    async def step(self) -> int:
        """Fetch the rows due now, a few at once; how many were claimed."""
        claimed = await self._claim()
        await asyncio.gather(*(self._fetch_one(row_id, key, url) for row_id, key, url in claimed))
        return len(claimed)

    async def copy_now(self, url: str) -> bool:
        """Fetch one file at once (a link preview's image, which must exist before the card
        goes to other nodes); whether this node has a copy now."""
        key = remote_file.key_of(url)
        async with self.db.write() as session:
            await remote_file.want(session, [url])
            row = await session.scalar(select(RemoteFile).where(RemoteFile.key == key))
            if row is None:
                return False
            if row.path:
                return True
            row_id = row.id
        await self._fetch_one(row_id, key, url)
        async with self.db.read() as session:
            path = await session.scalar(select(RemoteFile.path).where(RemoteFile.id == row_id))
        return path is not None

    async def _claim(self) -> list[tuple[int, str, str]]:
        return [
            (row_id, key, url)
            for row_id, key, url in await DUE.claim(self.db, RemoteFile.key, RemoteFile.url)
        ]

    async def _fetch_one(self, row_id: int, key: str, url: str) -> None:
        try:
            data, declared = await asyncio.wait_for(self._download(url), TIME_LIMIT)
            copy = await asyncio.to_thread(checked, data, declared)
        except (Refused, NotAllowed, ResponseTooLarge) as exc:
            await self._failed(row_id, url, str(exc), final=True)
            return
        except Exception as exc:  # any transport failure or timeout may pass: try again later
            await self._failed(row_id, url, f"{type(exc).__name__}: {exc}", final=False)
            return
        relative = await asyncio.to_thread(_write, self.settings, key, copy)
        async with self.db.write() as session:
            row = await session.get(RemoteFile, row_id)
            if row is None:
                await asyncio.to_thread(_remove, self.settings, relative)
                return
            old = row.path
            row.path, row.content_type, row.size = relative, copy.content_type, len(copy.data)
            row.meta = copy.meta
            row.fetch_after, row.fetch_error, row.fetch_attempts = None, None, 0
        if old and old != relative:
            await asyncio.to_thread(_remove, self.settings, old)

    async def _download(self, url: str) -> tuple[bytes, str]:
        client, sign = self.client, self.sign
        if self.previews is not None and not client.allowed(url):
            client, sign = self.previews, None
        fetched = await client.request(
            "GET", url, headers={"accept": "*/*"}, sign=sign, max_body=MAX_BYTES
        )
        if 400 <= fetched.status < 500 and fetched.status not in (408, 429):
            raise Refused(f"HTTP {fetched.status}")  # gone, forbidden, …: asking again won't help
        if fetched.status != 200:
            raise OSError(f"HTTP {fetched.status}")
        declared = fetched.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        return fetched.body, declared

    async def _failed(self, row_id: int, url: str, error: str, *, final: bool) -> None:
        log.info("remote file %s not fetched: %s", url, error)
        async with self.db.write() as session:
            row = await session.get(RemoteFile, row_id)
            if row is None:
                return
            row.fetch_attempts += 1
            row.fetch_error = error[:500]
            if final or row.fetch_attempts >= MAX_ATTEMPTS:
                row.fetch_after = None
            else:
                row.fetch_after = utcnow() + timedelta(seconds=30 * 2**row.fetch_attempts)
