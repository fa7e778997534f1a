"""CSV imports as background jobs: the request stores the job and its checked rows (one import
at a time per person); the background job (inbox.csv_import_run) claims a job, applies its
rows in batches and marks each row in the transaction of its effect.

A claim (outbox.claimed_jobs) is a lease renewed with every row: a job whose process died is
taken again after LEASE, and continues with the rows not yet marked.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.account import Account
from models.base import utcnow
from models.csv_import import CsvImport, CsvImportRow
from models.db import Database
from outbox.claimed_jobs import QueuedJobs
from outbox.csv_import import Row

LEASE = timedelta(minutes=2)
BATCH = 25  # rows applied per claim
SHOWN = 3  # imports listed on the page
MISSED_SHOWN = 20  # not-found rows named on the page
KEEP = timedelta(days=30)  # finished imports older than this are swept
QUEUE = QueuedJobs(CsvImport, CsvImport.state, CsvImport.claimed_at, "queued", "running", LEASE)


class ImportBusy(Exception):
    """The person has an import that is not done yet."""


@dataclass(frozen=True)
class Progress:
    job: CsvImport
    applied: int  # rows handled, found or not
    imported: int
    missed: list[str]  # the first MISSED_SHOWN targets not found
    missed_count: int


async def start(session: AsyncSession, account_id: int, kind: str, rows: Sequence[Row]) -> int:
    """Store an import of `rows` for the background; ImportBusy while another one is unfinished."""
    # Locking the person's row makes two uploads at once take turns: the second sees the first.
    await session.scalar(select(Account.id).where(Account.id == account_id).with_for_update())
    busy = await session.scalar(
        select(CsvImport.id)
        .where(CsvImport.account_id == account_id, CsvImport.state != "done")
        .limit(1)
    )
    if busy is not None:
        raise ImportBusy()
    job = CsvImport(account_id=account_id, kind=kind, state="queued", total=len(rows))
    session.add(job)
    await session.flush()
    session.add_all(
        CsvImportRow(
            import_id=job.id,
            position=position,
            target=row.target,
            reblogs=row.reblogs,
            notify=row.notify,
            notifications=row.notifications,
        )
        for position, row in enumerate(rows)
    )
    await session.flush()
    return job.id


async def recent(session: AsyncSession, account_id: int) -> list[Progress]:
    """The person's latest imports, newest first, with how far each has come."""
    jobs = list(
        await session.scalars(
            select(CsvImport)
            .where(CsvImport.account_id == account_id)
            .order_by(CsvImport.id.desc())
            .limit(SHOWN)
        )
    )
    shown = []
    for job in jobs:
        counts = dict(
            (
                await session.execute(
                    select(CsvImportRow.outcome, func.count())
                    .where(CsvImportRow.import_id == job.id, CsvImportRow.outcome.is_not(None))
                    .group_by(CsvImportRow.outcome)
                )
            ).all()
        )
        missed = list(
            await session.scalars(
                select(CsvImportRow.target)
                .where(CsvImportRow.import_id == job.id, CsvImportRow.outcome == "missing")
                .order_by(CsvImportRow.position)
                .limit(MISSED_SHOWN)
            )
        )
        done, missing = int(counts.get("done", 0)), int(counts.get("missing", 0))
        shown.append(Progress(job, done + missing, done, missed, missing))
    return shown


@dataclass(frozen=True)
class Claim:
    import_id: int
    account_id: int
    kind: str
    token: str


async def claim(db: Database) -> Claim | None:
    """Take the oldest queued import, or one whose lease ran out."""
    token = secrets.token_hex(16)
    job = await QUEUE.claim(db, claim=token)
    if job is None:
        return None
    return Claim(job.id, job.account_id, job.kind, token)


async def next_rows(db: Database, taken: Claim) -> list[CsvImportRow]:
    async with db.read() as session:
        return list(
            await session.scalars(
                select(CsvImportRow)
                .where(CsvImportRow.import_id == taken.import_id, CsvImportRow.outcome.is_(None))
                .order_by(CsvImportRow.position)
                .limit(BATCH)
            )
        )


async def mark(session: AsyncSession, taken: Claim, position: int, outcome: str) -> bool:
    """Mark a row applied (in the transaction of its effect) and renew the lease; False when
    the claim was lost or the row was marked already: then the caller rolls its effect back."""
    if not await QUEUE.renew(session, taken.import_id, CsvImport.claim == taken.token):
        return False
    marked = await session.execute(
        update(CsvImportRow)
        .where(
            CsvImportRow.import_id == taken.import_id,
            CsvImportRow.position == position,
            CsvImportRow.outcome.is_(None),
        )
        .values(outcome=outcome)
        .execution_options(synchronize_session=False)
    )
    return bool(marked.rowcount == 1)  # type: ignore[attr-defined]


async def finish(db: Database, taken: Claim) -> None:
    async with db.write() as session:
        await QUEUE.finish(
            session,
            taken.import_id,
            CsvImport.claim == taken.token,
            state="done",
            claim=None,
            finished_at=utcnow(),
        )


async def sweep(db: Database) -> int:
    """Forget finished imports older than KEEP."""
    async with db.write() as session:
        old = list(
            await session.scalars(
                select(CsvImport.id).where(
                    CsvImport.state == "done", CsvImport.finished_at < utcnow() - KEEP
                )
            )
        )
        if old:
            await session.execute(delete(CsvImportRow).where(CsvImportRow.import_id.in_(old)))
            await session.execute(delete(CsvImport).where(CsvImport.id.in_(old)))
    return len(old)
