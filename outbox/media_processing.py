"""Processing uploads after the answer: a PDF gets a preview image of its first page.

An upload that needs it is stored with `processing = "queued"` and `processing_due` set;
every web process (they hold the media folder, which `flurfunk worker` processes need not:
deploy/kubernetes/worker.yaml) claims due rows by moving `processing_due` a lease ahead, so
one process takes each, and a row whose process died is taken again when its lease lapses,
after a restart just the same — embedded or scaled out. The rendering runs in a child process
(outbox.pdf_preview) with memory, CPU and wall-clock limits. A PDF that pdfium cannot read
fails (`processing = "failed"`: GET /api/v1/media/:id answers 422, as Mastodon); one that is
readable but shows nothing, or exceeds a limit, stays a document without a preview.

Also here: uploads nobody attached are removed after a day (as Mastodon's media clean-up);
a deleted post's attachments count as unattached from the deletion on, so a redraft can use
them for that day.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import tempfile
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import utcnow
from models.db import Database
from models.retention import HeldStatus
from models.settings import Settings
from models.status import MediaAttachment
from outbox import pdf_preview, storage
from outbox.claimed_jobs import DueRows
from outbox.images import ImageError, clean_image
from outbox.media import remove_files

log = logging.getLogger("flurfunk.media_processing")
INTERVAL = 1.0  # seconds between two looks for due rows in each web process
BATCH = 2  # renderings at once per process (the machine's cores, not more)
LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 3  # a row whose process died this often fails
WALL_SECONDS = 25.0
CPU_SECONDS = 20
MEMORY_BYTES = 1 << 30
PROCESSING_FAILED = "failed"
UNATTACHED_FOR = timedelta(days=1)
SWEEP_EVERY = 600.0
SWEEP_BATCH = 200
DUE = DueRows(MediaAttachment.id, MediaAttachment.processing_due, LEASE, BATCH)


class Unreadable(Exception):
    """The file is not what it claimed to be: processing fails for good."""


async def render_first_page(source: Path) -> bytes | None:
    """The first page as PNG bytes; None when there is nothing to show or a limit was hit;
    Unreadable when pdfium cannot read the file."""
    with tempfile.TemporaryDirectory(prefix="flurfunk-pdf-") as folder:
        target = Path(folder) / "page.png"
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            pdf_preview.__name__,
            str(source),
            str(target),
            str(MEMORY_BYTES),
            str(CPU_SECONDS),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            _, errors = await asyncio.wait_for(child.communicate(), WALL_SECONDS)
        except TimeoutError:
            child.kill()
            await child.wait()
            log.warning("PDF preview of %s took longer than %.0f s", source.name, WALL_SECONDS)
            return None
        if child.returncode == pdf_preview.UNREADABLE:
            raise Unreadable("not a readable PDF")
        if child.returncode != 0 or not target.is_file():
            if child.returncode != pdf_preview.NOTHING_TO_SHOW:
                tail = errors.decode("utf-8", "replace")[-300:]
                log.warning(
                    "PDF preview of %s failed (%s): %s", source.name, child.returncode, tail
                )
            return None
        return target.read_bytes()


class MediaProcessor:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    async def step(self) -> int:
        """Process the rows due now; how many were claimed."""
        claimed = await self._claim()
        await asyncio.gather(*(self._process(media_id, path) for media_id, path in claimed))
        return len(claimed)

    async def _claim(self) -> list[tuple[int, str]]:
        now = utcnow()
        async with self.db.write() as session:
            rows = await DUE.due_now(
                session, now, MediaAttachment.file_path, MediaAttachment.processing_attempts
            )
            claimed = []
            for media_id, due, path, attempts in rows:
                if attempts >= MAX_ATTEMPTS or not path:
                    await self._finish(session, media_id, failed=True)
                    continue
                if await DUE.take(session, media_id, due, now, processing_attempts=attempts + 1):
                    claimed.append((media_id, path))
        return claimed

    @staticmethod
    async def _finish(
        session: AsyncSession, media_id: int, *, failed: bool, **values: object
    ) -> None:
        processing = PROCESSING_FAILED if failed else None
        await DUE.finish(session, media_id, processing=processing, **values)

    async def _process(self, media_id: int, path: str) -> None:
        values: dict[str, object] = {}
        failed = False
        try:
            async with _on_disk(storage.media(self.settings), path) as source:
                page = await render_first_page(source)
            if page is not None:
                values = await asyncio.to_thread(self._write_preview, Path(path), page)
        except Unreadable:
            failed = True
        except (OSError, ImageError) as exc:
            log.warning("processing media %d failed: %s", media_id, exc)
        async with self.db.write() as session:
            current = await session.get(MediaAttachment, media_id)
            if current is None or current.processing is None:
                return  # deleted meanwhile, or done by another process
            await self._finish(session, media_id, failed=failed, **values)

    def _write_preview(self, original: Path, page: bytes) -> dict[str, object]:
        clean = clean_image(page, self.settings.media_max_pixels)
        small = original.parent / f"small.{clean.preview_ext}"
        storage.media(self.settings).put(small.as_posix(), clean.preview)
        return {
            "preview_path": small.as_posix(),
            "meta": {"small": clean.meta["small"]},
            "blurhash": clean.blurhash,
        }


@contextlib.asynccontextmanager
async def _on_disk(files: storage.Storage, key: str) -> AsyncIterator[Path]:
    """A path the rendering process can open: the file itself, or a copy of the S3 object."""
    local = files.local_path(key)
    if local is not None:
        yield local
        return
    with tempfile.TemporaryDirectory(prefix="flurfunk-media-") as folder:
        copy = Path(folder) / "source"
        await asyncio.to_thread(_download, files, key, copy)
        yield copy


def _download(files: storage.Storage, key: str, target: Path) -> None:
    reader = files.open(key)
    if reader is None:
        raise OSError(f"{key} is not in storage")
    with reader, target.open("wb") as out:
        while chunk := reader.read():
            out.write(chunk)


async def wait_until_processed(
    db: Database, media: MediaAttachment, *, seconds: float = 60.0
) -> MediaAttachment:
    """The row once processing ended (the legacy v1 upload answers only then), or as it is
    after `seconds`."""
    deadline = asyncio.get_running_loop().time() + seconds
    current = media
    while current.processing == "queued" and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.25)
        async with db.read() as session:
            row = await session.get(MediaAttachment, media.id)
        if row is None:
            return current
        current = row
    return current


async def remove_unattached(db: Database, settings: Settings) -> int:
    """Remove uploads that no post has used for a day (their rows, then their files); the
    attachments of posts in the legal hold archive stay. How many went."""
    cutoff = utcnow() - UNATTACHED_FOR
    gone = 0
    while True:
        async with db.write() as session:
            held: set[int] = set()
            for data in await session.scalars(select(HeldStatus.data)):
                held.update(int(i) for i in (data or {}).get("media_ids") or [])
            stale = and_(
                MediaAttachment.status_id.is_(None),
                MediaAttachment.file_path.is_not(None),
                MediaAttachment.created_at < cutoff,
                or_(
                    MediaAttachment.unattached_since.is_(None),
                    MediaAttachment.unattached_since < cutoff,
                ),
            )
            query = select(MediaAttachment.id).where(stale)
            if held:
                query = query.where(MediaAttachment.id.not_in(held))
            ids = list((await session.scalars(query.limit(SWEEP_BATCH))).all())
            if not ids:
                return gone
            paths = (
                await session.execute(
                    delete(MediaAttachment)
                    .where(MediaAttachment.id.in_(ids))
                    .returning(MediaAttachment.file_path)
                )
            ).scalars()
            files = [p for p in paths if p]
        with contextlib.suppress(OSError):
            remove_files(settings, files)  # once committed: a rollback would still need them
        gone += len(ids)
        if len(ids) < SWEEP_BATCH:
            return gone
