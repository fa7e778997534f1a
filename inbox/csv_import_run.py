"""The background side of CSV imports (outbox.csv_import_jobs): resolve each row's account or
post the way the client API's search does (local accounts by name, remote ones by WebFinger,
remote posts fetched from their home, only on allowlisted hosts), then apply it with the
outbox function the API handler calls, marking the row in the same transaction.

Lookups run outside any write transaction: they take network round trips.
"""

from __future__ import annotations

import logging

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from federation.client import NotAllowed
from inbox.dereference import FetchError, resolve_handle, webfinger_url
from inbox.notes import fetch_note, store_note
from inbox.parse import Unusable, authority
from models.account import Account
from models.csv_import import CsvImportRow
from models.status import Status
from outbox import csv_import_jobs as jobs
from outbox import interactions
from outbox import relationships as actions
from outbox.context import Federation
from outbox.status_parts import InvalidStatus, StatusNotFound

log = logging.getLogger("flurfunk.csv_import")


class _Lost(Exception):
    """Another process holds the import now, or marked the row: undo this row's effect."""


class _Suspended(Exception):
    """The person was suspended after the upload: they may only read (web.api.base), so
    the rows not yet applied stay so."""


def _is_ours(fed: Federation, host: str) -> bool:
    return host.lower() == fed.settings.domain.lower()


async def _account(fed: Federation, target: str) -> int | None:
    name, _, host = target.partition("@")
    if not host or _is_ours(fed, host):
        async with fed.db.read() as session:
            found = await session.scalar(
                select(Account).where(
                    func.lower(Account.username) == name.lower(), Account.domain.is_(None)
                )
            )
    elif not fed.allowlist().allows_url(webfinger_url(fed, host.lower(), f"acct:x@{host}")):
        return None
    else:
        found = await resolve_handle(fed, f"{name}@{host}")
    if found is None or found.suspended_at is not None:
        return None
    return found.id


async def _status(fed: Federation, url: str) -> int | None:
    try:
        ours = _is_ours(fed, authority(url))
    except Unusable:
        return None
    async with fed.db.read() as session:
        known = await session.scalar(
            select(Status.id).where(or_(Status.uri == url, Status.url == url)).limit(1)
        )
    if known is not None or ours or not fed.allowlist().allows_url(url):
        return known
    try:
        document = await fetch_note(fed, url)
        async with fed.db.write() as session:
            stored = await store_note(fed, session, document, solicited=True)
            return None if stored is None else stored.id
    except (FetchError, NotAllowed, Unusable) as exc:
        log.info("import: resolving %s as a post failed: %s", url, exc)
        return None


async def _apply(fed: Federation, taken: jobs.Claim, row: CsvImportRow) -> None:
    try:
        if taken.kind == "bookmarks":
            found = await _status(fed, row.target)
        else:
            found = await _account(fed, row.target)
    except (FetchError, NotAllowed, Unusable) as exc:
        # A row another node answers badly for counts as not found, or it would stop the
        # import at the same row after every restart.
        log.info("import: resolving %s failed: %s", row.target, exc)
        found = None
    async with fed.db.write() as session:
        me = await session.get(Account, taken.account_id)
        if me is None:
            raise _Lost()
        if me.suspended_at is not None:
            raise _Suspended()
        outcome = "missing"
        if found is not None:
            try:
                async with session.begin_nested():
                    await _act(fed, session, me, taken.kind, row, found)
                outcome = "done"
            except (actions.NotPermitted, StatusNotFound, InvalidStatus):
                pass
        if not await jobs.mark(session, taken, row.position, outcome):
            raise _Lost()


async def _act(
    fed: Federation, session: AsyncSession, me: Account, kind: str, row: CsvImportRow, found: int
) -> None:
    if kind == "bookmarks":
        await interactions.bookmark(session, me, found)
        return
    target = await session.get(Account, found)
    if target is None:
        raise actions.NotPermitted()
    if kind == "following":
        await actions.follow(
            session, me, target, reblogs=row.reblogs, notify_posts=row.notify, fed=fed
        )
    elif kind == "blocks":
        await actions.block(session, me, target, fed=fed)
    else:
        await actions.mute(session, me, target, notifications=row.notifications)


async def run_next(fed: Federation) -> bool:
    """Apply one batch of one import; returns whether there was one."""
    taken = await jobs.claim(fed.db)
    if taken is None:
        return False
    try:
        while rows := await jobs.next_rows(fed.db, taken):
            for row in rows:
                await _apply(fed, taken, row)
            fed.wake_deliveries()
        await jobs.finish(fed.db, taken)
    except _Lost:
        log.info("import %s: taken over by another process", taken.import_id)
    except _Suspended:
        log.info("import %s: its person is suspended; the rest is not applied", taken.import_id)
        await jobs.finish(fed.db, taken)
    return True


async def run_pending(fed: Federation) -> int:
    """The periodic job: apply every queued import, one after the other."""
    ran = 0
    while await run_next(fed):
        ran += 1
    if ran:
        await jobs.sweep(fed.db)
    return ran
