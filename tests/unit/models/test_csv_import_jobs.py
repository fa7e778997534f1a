"""CSV import jobs on real SQLite and PostgreSQL databases: one import at a time per person,
and a job whose process died is taken again and continues without applying a marked row
twice."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from models.base import utcnow
from models.csv_import import CsvImport
from models.db import Database
from models.migrate import upgrade
from models.settings import Settings
from outbox import csv_import_jobs as jobs
from outbox import user_admin
from outbox.csv_import import Row
from outbox.user_admin import Operator
from tests.conftest import BACKENDS
from tests.kit import postgres_available, postgres_database, require_service


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'imports.db'}"
        upgrade(url)
        yield url
        return
    available, reason = postgres_available()
    require_service("PostgreSQL", available, reason)
    with postgres_database() as url:
        upgrade(url)
        yield url


def test_one_import_at_a_time_and_a_dead_claim_is_taken_again(database: str) -> None:
    async def run() -> None:
        db = Database(database)
        try:
            async with db.write() as session:
                account = await user_admin.create_user(
                    session, Settings(), Operator("cli:ops"), username="ann", password_hash="x"
                )
                rows = [Row(f"friend{i}") for i in range(3)]
                await jobs.start(session, account.id, "following", rows)
            async with db.write() as session:
                with pytest.raises(jobs.ImportBusy):
                    await jobs.start(session, account.id, "blocks", [Row("pest")])

            first = await jobs.claim(db)
            assert first is not None
            assert await jobs.claim(db) is None  # held while its lease runs
            async with db.write() as session:
                assert await jobs.mark(session, first, 0, "done")
            async with db.write() as session:  # the first process dies; its lease runs out
                await session.execute(
                    update(CsvImport).values(claimed_at=utcnow() - 2 * jobs.LEASE)
                )
            second = await jobs.claim(db)
            assert second is not None
            assert [r.position for r in await jobs.next_rows(db, second)] == [1, 2]
            async with db.write() as session:
                assert not await jobs.mark(session, first, 1, "done")  # the old claim is void
            async with db.write() as session:
                assert not await jobs.mark(session, second, 0, "missing")  # marked already
                assert await jobs.mark(session, second, 1, "done")
                assert await jobs.mark(session, second, 2, "missing")
            await jobs.finish(db, second)
            async with db.read() as session:
                (shown,) = await jobs.recent(session, account.id)
            assert (shown.job.state, shown.imported, shown.missed) == ("done", 2, ["friend2"])

            async with db.write() as session:
                await jobs.start(session, account.id, "blocks", [Row("pest")])  # free again
                await session.execute(
                    update(CsvImport)
                    .where(CsvImport.state == "done")
                    .values(finished_at=utcnow() - jobs.KEEP - timedelta(days=1))
                )
            assert await jobs.sweep(db) == 1
        finally:
            await db.dispose()

    asyncio.run(run())
