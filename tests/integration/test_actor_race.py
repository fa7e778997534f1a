"""Two processes that fetch the same new remote actor at once both end up with its one row.

On PostgreSQL both may find no row, and the second INSERT then waits on the first one's
unique index until that commits. The second must update the stored row, not fail the work
it was part of (an inbox activity, a follow).
"""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select, text

from inbox.dereference import store_actor
from models.account import Account
from models.db import Database
from models.migrate import upgrade
from tests.kit import postgres_available, postgres_database, require_service


def fields(display_name: str) -> dict[str, object]:
    return {
        "uri": "https://sales.flurfunk.test/users/berta",
        "username": "berta",
        "domain": "sales.flurfunk.test",
        "display_name": display_name,
        "inbox_url": "https://sales.flurfunk.test/users/berta/inbox",
    }


async def race(url: str) -> tuple[int, str]:
    db = Database(url)
    try:
        first_stored = asyncio.Event()
        release_first = asyncio.Event()

        async def first() -> None:
            async with db.write() as session:
                await store_actor(session, fields("Berta (first fetch)"))
                first_stored.set()
                await release_first.wait()  # holds its uncommitted row while the second runs

        async def second() -> None:
            await first_stored.wait()
            async with db.write() as session:
                await store_actor(session, fields("Berta (second fetch)"))
                await session.execute(select(1))  # the transaction goes on after the race

        one = asyncio.create_task(first())
        two = asyncio.create_task(second())
        await first_stored.wait()
        await _until_someone_waits_on_a_lock(db)  # the second INSERT, on the unique index
        release_first.set()
        await asyncio.gather(one, two)
        async with db.read() as session:
            count = await session.scalar(select(func.count()).select_from(Account))
            name = await session.scalar(select(Account.display_name))
        return int(count or 0), str(name)
    finally:
        await db.dispose()


async def _until_someone_waits_on_a_lock(db: Database) -> None:
    for _ in range(200):
        async with db.read() as session:
            waiting = await session.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
        if waiting:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the second store never waited for the first: no race was run")


def test_concurrent_stores_of_a_new_actor_keep_one_row_with_the_latest_fields() -> None:
    available, reason = postgres_available()
    require_service("PostgreSQL", available, reason)
    with postgres_database() as url:
        upgrade(url)
        assert asyncio.run(race(url)) == (1, "Berta (second fetch)")
