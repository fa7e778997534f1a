"""Two processes that store the same new remote note at once both end up with its one row.

The inbox storing a Create and a search resolving the same post's URL may both find no row on
PostgreSQL; the second INSERT then waits on the first one's unique uri until that commits.
The second must go on with the stored note (counting and notifying nothing twice), not fail
the work it was part of.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func, select, text

from inbox.dereference import store_actor
from inbox.notes import store_note
from models.account import Account
from models.db import Database
from models.migrate import upgrade
from models.notification import Notification
from models.settings import Settings
from models.status import Status
from outbox.accounts import create_local_account
from outbox.context import Federation
from tests.kit import postgres_available, postgres_database, require_service
from web.runtime import build_federation

REMOTE = "https://sales.flurfunk.test"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


def note(mentioned: str) -> dict[str, object]:
    return {
        "id": f"{REMOTE}/users/berta/statuses/1",
        "type": "Note",
        "attributedTo": f"{REMOTE}/users/berta",
        "content": "<p>@ada the figures are in</p>",
        "published": "2024-05-02T09:00:00Z",
        "to": [PUBLIC],
        "tag": [{"type": "Mention", "href": mentioned, "name": "@ada"}],
    }


async def prepare(fed: Federation) -> str:
    """Ada here, Berta's account already known; Ada's actor URI."""
    async with fed.db.write() as session:
        ada = await create_local_account(session, fed.settings, username="ada", password_hash="x")
        await store_actor(
            session,
            {
                "uri": f"{REMOTE}/users/berta",
                "username": "berta",
                "domain": "sales.flurfunk.test",
                "inbox_url": f"{REMOTE}/users/berta/inbox",
            },
        )
        return str(ada.uri)


async def race(fed: Federation) -> tuple[int, int, int, bool]:
    document = note(await prepare(fed))
    first_stored = asyncio.Event()
    release_first = asyncio.Event()
    second_found: list[Status | None] = []

    async def first() -> None:
        async with fed.db.write() as session:
            await store_note(fed, session, document, solicited=True)
            first_stored.set()
            await release_first.wait()  # holds its uncommitted row while the second runs

    async def second() -> None:
        await first_stored.wait()
        async with fed.db.write() as session:
            second_found.append(await store_note(fed, session, document, solicited=True))
            await session.execute(select(1))  # the transaction goes on after the race

    one = asyncio.create_task(first())
    two = asyncio.create_task(second())
    await first_stored.wait()
    await _until_someone_waits_on_a_lock(fed.db)  # the second INSERT, on the unique uri
    release_first.set()
    await asyncio.gather(one, two)
    async with fed.db.read() as session:
        statuses = await session.scalar(select(func.count()).select_from(Status))
        mentions = await session.scalar(
            select(func.count()).select_from(Notification).where(Notification.type == "mention")
        )
        posted = await session.scalar(
            select(Account.statuses_count).where(Account.username == "berta")
        )
    found = second_found[0]
    return (
        int(statuses or 0),
        int(mentions or 0),
        int(posted or 0),
        found is not None and found.uri == document["id"],
    )


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


async def run(url: str, tmp: Path) -> tuple[int, int, int, bool]:
    db = Database(url)
    fed = await build_federation(
        Settings(public_url="http://hq.flurfunk.test", data_dir=tmp, database_url=url), db
    )
    try:
        return await race(fed)
    finally:
        await fed.client.aclose()
        await db.dispose()


def test_concurrent_stores_of_a_new_note_keep_one_row_and_notify_once(tmp_path: Path) -> None:
    available, reason = postgres_available()
    require_service("PostgreSQL", available, reason)
    with postgres_database() as url:
        upgrade(url)
        # One status, one notification for Ada, one post counted; the second store has it.
        assert asyncio.run(run(url, tmp_path)) == (1, 1, 1, True)
