"""Remote emoji images, fetched in the background and kept on this node.

A remote emoji row that has an image URL but no copy yet is due (`fetch_after`). The fetcher
claims due rows (moving `fetch_after` a lease ahead, so that one process takes each), GETs
the image through the allowlisted client within a size and time limit, checks the declared
type and then the content itself (outbox.emoji_images), and stores it. Failures that may pass
(a timeout, a 5xx) are retried with back-off a few times; a refused host, an oversized or
non-image answer is final and kept as `fetch_error`. The rows are the truth: a process that
dies holding a claim leaves rows that come due again when the lease ends.

It runs in the web processes, which hold the media folder that serves the copies.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from federation.client import FederationClient, NotAllowed, ResponseTooLarge
from models.base import utcnow
from models.db import Database
from models.emoji import LOCAL, CustomEmoji
from models.settings import Settings
from outbox import emoji_images
from outbox.claimed_jobs import DueRows
from outbox.emoji_catalogue import LiveEmojis

log = logging.getLogger("flurfunk.emoji")
INTERVAL = 1.0  # how often the web process looks for due rows
BATCH = 8
LEASE = timedelta(minutes=2)
TIME_LIMIT = 30.0  # a whole fetch, redirects and a slow body included
MAX_ATTEMPTS = 5
ACCEPT = "image/png, image/gif, image/webp"
DUE = DueRows(CustomEmoji.id, CustomEmoji.fetch_after, LEASE, BATCH, CustomEmoji.domain != LOCAL)


class Refused(Exception):
    """A fetch that will never succeed (kept as the row's error)."""


class EmojiFetcher:
    def __init__(
        self, db: Database, client: FederationClient, settings: Settings, emojis: LiveEmojis
    ) -> None:
        self.db = db
        self.client = client
        self.settings = settings
        self.emojis = emojis

    async def step(self) -> int:
        """Fetch the rows due now; how many were claimed."""
        claimed = await self._claim()
        fetched = 0
        for row_id, url, shortcode in claimed:
            fetched += await self._fetch_one(row_id, url, shortcode)
        if fetched:
            await self.emojis.refresh(force=True)
        return len(claimed)

    async def _claim(self) -> list[tuple[int, str, str]]:
        claimed = await DUE.claim(self.db, CustomEmoji.image_remote_url, CustomEmoji.shortcode)
        return [(row_id, url, shortcode) for row_id, url, shortcode in claimed if url]

    async def _fetch_one(self, row_id: int, url: str, shortcode: str) -> int:
        try:
            data = await asyncio.wait_for(self._download(url), TIME_LIMIT)
            image = await asyncio.to_thread(emoji_images.check, data)
        except (Refused, NotAllowed, ResponseTooLarge, emoji_images.EmojiImageError) as exc:
            await self._failed(row_id, url, str(exc), final=True)
            return 0
        except Exception as exc:  # any transport failure or timeout may pass: try again later
            await self._failed(row_id, url, f"{type(exc).__name__}: {exc}", final=False)
            return 0
        path, still = await asyncio.to_thread(emoji_images.store, self.settings, image, shortcode)
        async with self.db.write() as session:
            row = await session.get(CustomEmoji, row_id)
            if row is None or row.image_remote_url != url:  # gone or changed meanwhile
                emoji_images.remove(self.settings, path, still)
                return 0
            old = (row.image_path, row.static_path)
            row.image_path, row.static_path, row.content_type = path, still, image.mime
            row.fetch_after, row.fetch_error, row.fetch_attempts = None, None, 0
            row.updated_at = utcnow()
        stale = [p for p in old if p not in (path, still)]
        await asyncio.to_thread(emoji_images.remove, self.settings, *stale)
        return 1

    async def _download(self, url: str) -> bytes:
        fetched = await self.client.request(
            "GET", url, headers={"accept": ACCEPT}, max_body=emoji_images.MAX_BYTES
        )
        if 400 <= fetched.status < 500 and fetched.status not in (408, 429):
            raise Refused(f"HTTP {fetched.status}")  # gone, forbidden, …: asking again won't help
        if fetched.status != 200:
            raise OSError(f"HTTP {fetched.status}")
        declared = fetched.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if declared not in ("image/png", "image/gif", "image/webp"):
            raise Refused(f"not an emoji image type: {declared[:64] or 'none'}")
        return fetched.body

    async def _failed(self, row_id: int, url: str, error: str, *, final: bool) -> None:
        log.info("emoji image %s not fetched: %s", url, error)
        async with self.db.write() as session:
            row = await session.get(CustomEmoji, row_id)
            if row is None or row.image_remote_url != url:
                return
            row.fetch_attempts += 1
            row.fetch_error = error[:500]
            if final or row.fetch_attempts >= MAX_ATTEMPTS:
                row.fetch_after = None
            else:
                row.fetch_after = utcnow() + timedelta(seconds=30 * 2**row.fetch_attempts)
