"""Two admins publish a usage policy at the same instant on PostgreSQL: both versions are
kept, one after the other, and neither admin sees an error."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from models import policy as stored
from models.db import Database
from models.migrate import upgrade
from tests.kit import postgres_available, postgres_database, require_service


@pytest.fixture
def database_url() -> Iterator[str]:
    """PostgreSQL only: on SQLite one write transaction waits for the other to end."""
    available, reason = postgres_available()
    require_service("PostgreSQL", available, reason)
    with postgres_database() as url:
        upgrade(url)
        yield url


def test_simultaneous_publications_both_land(database_url: str) -> None:
    async def race() -> list[int]:
        db = Database(database_url)
        first_flushed = asyncio.Event()
        first_may_commit = asyncio.Event()

        async def first() -> int:
            async with db.write() as session:
                version = await stored.publish(session, "Rules by Anna", "anna")
                first_flushed.set()
                await first_may_commit.wait()
                return version.version

        async def second() -> int:
            await first_flushed.wait()
            async with db.write() as session:
                # This insert waits for the first transaction's row, then meets it.
                asyncio.get_running_loop().call_later(0.2, first_may_commit.set)
                version = await stored.publish(session, "Rules by Bernd", "bernd")
                return version.version

        try:
            numbers = await asyncio.gather(first(), second())
            async with db.read() as session:
                current = await stored.current(session)
                assert current is not None
                return [*numbers, current.version]
        finally:
            await db.dispose()

    anna, bernd, current = asyncio.run(race())
    assert sorted([anna, bernd]) == [1, 2]
    assert current == 2
