"""The background side of CSV imports, run as the serve process runs it: an import queued by
someone who is suspended before it runs applies nothing for them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from inbox import csv_import_run
from models.base import utcnow
from models.csv_import import CsvImport
from models.db import Database
from models.migrate import upgrade
from models.relationship import Block, Follow
from models.settings import Settings
from outbox import csv_import_jobs
from outbox.accounts import create_local_account
from outbox.context import Federation
from outbox.csv_import import Row
from web.runtime import build_federation


@pytest.fixture
async def fed(tmp_path: Path) -> AsyncIterator[Federation]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'node.db'}"
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    federation = await build_federation(
        Settings(public_url="http://hq.flurfunk.test", data_dir=tmp_path, database_url=url), db
    )
    yield federation
    await federation.client.aclose()
    await db.dispose()


@pytest.mark.parametrize("kind", ["following", "blocks"])
async def test_a_suspended_persons_import_applies_nothing(fed: Federation, kind: str) -> None:
    async with fed.db.write() as session:
        ada = await create_local_account(session, fed.settings, username="ada", password_hash="x")
        for name in ("ben", "cleo"):
            await create_local_account(session, fed.settings, username=name, password_hash="x")
        await csv_import_jobs.start(session, ada.id, kind, [Row("ben"), Row("cleo")])
    async with fed.db.write() as session:  # suspended while the import waits
        suspended = await session.get(type(ada), ada.id)
        assert suspended is not None
        suspended.suspended_at = utcnow()

    assert await csv_import_run.run_pending(fed) == 1
    async with fed.db.read() as session:
        follows = (await session.execute(select(Follow))).scalars().all()
        blocks = (await session.execute(select(Block))).scalars().all()
        (job,) = (await session.execute(select(CsvImport))).scalars().all()
        (shown,) = await csv_import_jobs.recent(session, ada.id)
    # Only the self-follow every account has (if any) — nothing of the import.
    assert [f for f in follows if f.account_id != f.target_account_id] == []
    assert blocks == []
    assert job.state == "done"  # not retried forever, and the person may upload again
    assert shown.imported == 0
