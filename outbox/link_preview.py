"""Link previews of local posts: the first link of a post is read in the background and
becomes its card (Mastodon's PreviewCard), which then travels to other nodes with the post.

`track` runs in the transaction that posts or edits a status: it keeps, resets or drops the
status's card row so that it names the post's first link. The fetcher claims due rows
(outbox.claimed_jobs), reads the page through the preview client — hosts on the
federation allowlist or FLURFUNK_PREVIEW_HOSTS only, every redirect hop checked before it is
followed, within a time and a size limit — and its oEmbed answer from an allowed host, and
stores what it found. Readers of open timelines hear `status.update`; followers on other nodes
get an Update(Note) carrying the card. The card's image is copied like a remote attachment.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from federation.allowlist import Allowlist
from federation.client import FederationClient, NotAllowed, ResponseTooLarge
from federation.values import InvalidValue, json_document
from models import remote_file
from models.account import Account
from models.base import utcnow
from models.db import Database
from models.preview_card import PreviewCard
from models.status import Status
from outbox import events, federate
from outbox.claimed_jobs import DueRows
from outbox.context import Federation
from outbox.page_meta import MAX_OEMBED, MAX_PAGE, PageMeta, first_link, read_page, with_oembed
from outbox.remote_media import RemoteMediaFetcher

log = logging.getLogger("flurfunk.previews")
INTERVAL = 1.0
BATCH = 4
LEASE = timedelta(minutes=2)
TIME_LIMIT = 15.0  # the page and its oEmbed answer together, redirects and slow bodies included
MAX_ATTEMPTS = 3
HTML_TYPES = ("text/html", "application/xhtml+xml")
DUE = DueRows(PreviewCard.id, PreviewCard.fetch_after, LEASE, BATCH)


class Refused(Exception):
    """A preview that will never be had (kept as the row's error)."""


async def track(session: AsyncSession, status: Status, *, new: bool = False) -> None:
    """Make the card row of a local status follow its first link (in the caller's
    transaction): a new link gets a fresh row due now, no link no row. A `new` status has
    no row yet, so posting asks the database nothing when there is no link."""
    link = first_link(status.content) if status.reblog_of_id is None else None
    if new:
        if link is not None:
            session.add(PreviewCard(status_id=status.id, link=link, fetch_after=utcnow()))
            await session.flush()
        return
    card = await session.scalar(select(PreviewCard).where(PreviewCard.status_id == status.id))
    if link is None:
        if card is not None:
            await session.execute(delete(PreviewCard).where(PreviewCard.id == card.id))
        return
    if card is not None and card.link == link:
        return
    if card is not None:
        await session.execute(delete(PreviewCard).where(PreviewCard.id == card.id))
        await session.flush()
    session.add(PreviewCard(status_id=status.id, link=link, fetch_after=utcnow()))
    await session.flush()


class LinkPreviewFetcher:
    def __init__(
        self,
        fed: Federation,
        client: FederationClient,
        hosts: Allowlist,
        media: RemoteMediaFetcher,
    ) -> None:
        self.fed = fed
        self.db: Database = fed.db
        self.client = client
        self.hosts = hosts
        self.media = media

    async def step(self) -> int:
        claimed = await DUE.claim(self.db, PreviewCard.link)
        await asyncio.gather(*(self._fetch_one(card_id, link) for card_id, link in claimed))
        return len(claimed)

    async def _fetch_one(self, card_id: int, link: str) -> None:
        try:
            page = await asyncio.wait_for(self.read(link), TIME_LIMIT)
        except (Refused, NotAllowed, ResponseTooLarge, InvalidValue) as exc:
            await self._failed(card_id, link, str(exc), final=True)
            return
        except Exception as exc:  # a timeout, a refused connection, a 5xx: may pass
            await self._failed(card_id, link, f"{type(exc).__name__}: {exc}", final=False)
            return
        # The image is copied before the card is shown or sent: other nodes fetch it from us.
        if page.image and not await self.media.copy_now(page.image):
            page = _without_image(page)
        await self._store(card_id, link, page)

    async def read(self, link: str) -> PageMeta:
        """The preview of `link`; NotAllowed before any connection to a host not allowed."""
        if not self.hosts.allows_url(link):
            raise NotAllowed(link)
        fetched = await self.client.request(
            "GET", link, headers={"accept": "text/html, application/xhtml+xml"}, max_body=MAX_PAGE
        )
        if 400 <= fetched.status < 500 and fetched.status not in (408, 429):
            raise Refused(f"HTTP {fetched.status}")
        if fetched.status != 200:
            raise OSError(f"HTTP {fetched.status}")
        declared = fetched.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if declared not in HTML_TYPES:
            raise Refused(f"not a web page: {declared[:64] or 'no type'}")
        page = await asyncio.to_thread(read_page, fetched.body, fetched.url)
        if page.image and not self.hosts.allows_url(page.image):
            page = _without_image(page)  # never connect where a page points unless allowed
        if page.oembed and self.hosts.allows_url(page.oembed):
            page = await self._with_oembed(page, page.oembed)
        return page

    async def _with_oembed(self, page: PageMeta, url: str) -> PageMeta:
        try:
            fetched = await self.client.request(
                "GET", url, headers={"accept": "application/json"}, max_body=MAX_OEMBED
            )
            answer = json_document(fetched.body) if fetched.status == 200 else None
        except (NotAllowed, ResponseTooLarge, InvalidValue) as exc:
            log.info("oEmbed %s not used: %s", url, exc)
            return page
        page = with_oembed(page, answer, self.hosts.allows_url)
        if page.image and not self.hosts.allows_url(page.image):
            page = _without_image(page)
        return page

    async def _store(self, card_id: int, link: str, page: PageMeta) -> None:
        async with self.db.write() as session:
            card = await session.get(PreviewCard, card_id)
            if card is None or card.link != link:  # the post changed meanwhile
                return
            status = await session.get(Status, card.status_id)
            author = await session.get(Account, status.account_id) if status else None
            if status is None or author is None:
                return
            card.url, card.title, card.description = page.url, page.title, page.description
            card.type, card.html = page.type, page.html
            card.author_name, card.author_url = page.author_name, page.author_url
            card.provider_name, card.provider_url = page.provider_name, page.provider_url
            card.width, card.height = page.width, page.height
            card.image_url, card.image_description = page.image, page.image_description
            card.embed_url, card.published_at = page.embed_url, page.published_at
            card.fetched_at, card.fetch_after, card.fetch_error = utcnow(), None, None
            await remote_file.want(session, [page.image])
            await session.flush()
            events.edited(session, status)
            await federate.card_arrived(session, self.fed, author, status)
        self.fed.wake_deliveries()

    async def _failed(self, card_id: int, link: str, error: str, *, final: bool) -> None:
        log.info("no preview of %s: %s", link, error)
        async with self.db.write() as session:
            card = await session.get(PreviewCard, card_id)
            if card is None or card.link != link:
                return
            card.fetch_attempts += 1
            card.fetch_error = error[:500]
            if final or card.fetch_attempts >= MAX_ATTEMPTS:
                card.fetch_after = None
            else:
                card.fetch_after = utcnow() + timedelta(seconds=10 * 2**card.fetch_attempts)


def _without_image(page: PageMeta) -> PageMeta:
    return replace(page, image=None, image_description="", width=0, height=0)
