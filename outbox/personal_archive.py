"""A person's own archive in Mastodon's format (outbox.archive), prepared in the background.

Asking writes a `pending` row (one at a time per person); the periodic job (every few
seconds, in the serve process without Redis or in the workers with it) claims it, writes the
zip under DATA_DIR/archives and marks it `ready`, replacing the person's older archive. A
claim (outbox.claimed_jobs) that a dead process left behind is taken again after
CLAIM_TIMEOUT.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.account import Account
from models.base import utcnow
from models.db import Database
from models.retention import PersonalArchive
from models.settings import Settings
from outbox import archive
from outbox.claimed_jobs import QueuedJobs

log = logging.getLogger(__name__)

CLAIM_TIMEOUT = timedelta(hours=1)
FOLDER = "archives"
# A claim restarts `created_at`: a building archive older than CLAIM_TIMEOUT was left behind.
QUEUE = QueuedJobs(
    PersonalArchive,
    PersonalArchive.state,
    PersonalArchive.created_at,
    "pending",
    "building",
    CLAIM_TIMEOUT,
)


def archive_path(settings: Settings, row: PersonalArchive) -> Path | None:
    if not row.file_path:
        return None
    root = (settings.data_dir / FOLDER).resolve()
    path = (root / row.file_path).resolve()
    return path if path.is_relative_to(root) else None


async def latest(session: AsyncSession, account_id: int) -> PersonalArchive | None:
    return await session.scalar(
        select(PersonalArchive)
        .where(PersonalArchive.account_id == account_id)
        .order_by(PersonalArchive.id.desc())
        .limit(1)
    )


async def request_archive(session: AsyncSession, account_id: int) -> PersonalArchive:
    """Ask for a new archive; while one is being prepared, that one is the answer."""
    current = await latest(session, account_id)
    if current is not None and current.state in ("pending", "building"):
        return current
    row = PersonalArchive(account_id=account_id, state="pending")
    session.add(row)
    await session.flush()
    return row


async def build_next(db: Database, settings: Settings) -> bool:
    """Prepare one pending archive; returns whether there was one."""
    row = await QUEUE.claim(db)
    if row is None:
        return False
    folder = settings.data_dir / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{row.account_id}-{row.id}-{secrets.token_hex(8)}.zip"
    try:
        async with db.read() as session:
            account = await session.get(Account, row.account_id)
            if account is None:
                return True  # the account went, and the row with it
            contents = await archive.collect(session, settings, account)
        size = await asyncio.to_thread(archive.write, contents, folder / name)
    except OSError as exc:
        log.exception("archive %s failed", row.id)
        async with db.write() as session:
            await QUEUE.finish(
                session, row.id, state="failed", error=str(exc)[:500], finished_at=utcnow()
            )
        return True
    async with db.write() as session:
        older = list(
            await session.scalars(
                select(PersonalArchive).where(
                    PersonalArchive.account_id == row.account_id, PersonalArchive.id != row.id
                )
            )
        )
        for old in older:
            path = archive_path(settings, old)
            if path is not None:
                path.unlink(missing_ok=True)
            await session.delete(old)
        await QUEUE.finish(
            session, row.id, state="ready", file_path=name, file_size=size, finished_at=utcnow()
        )
    return True


async def build_pending(db: Database, settings: Settings) -> int:
    """The periodic job: prepare every pending archive, one after the other."""
    built = 0
    while await build_next(db, settings):
        built += 1
    return built
