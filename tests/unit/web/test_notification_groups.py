"""Which notifications share a group, on a real SQLite database: the key computed in Python
and in SQL agree, a parsed key names exactly its group's rows, and a page's groups are found
however many notifications one group holds."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.db import Database
from models.ids import id_for_time
from models.migrate import upgrade
from models.notification import Notification
from models.notification_groups import WINDOW_MS, group_key, group_sql, parse_group_key
from models.settings import Settings
from models.status import Status
from outbox import user_admin
from outbox.user_admin import Operator
from web.api.grouped_notifications import SCAN_CHUNK, first_of_groups

T = TypeVar("T")
NOON = 1_780_000_000_000 // WINDOW_MS * WINDOW_MS + WINDOW_MS  # a window's first millisecond


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'groups.db'}"
    upgrade(url)
    return url


def run(url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def go() -> T:
        db = Database(url)
        try:
            async with db.write() as session:
                return await work(session)
        finally:
            await db.dispose()

    return asyncio.run(go())


def seed(url: str) -> tuple[int, int]:
    """Reader and sender; notifications: SCAN_CHUNK + 50 follows in one window, then favourites
    of two statuses straddling the window's end, then 3 mentions."""

    async def work(session: AsyncSession) -> tuple[int, int]:
        operator = Operator("cli:test")
        reader = await user_admin.create_user(
            session, Settings(), operator, username="reader", password_hash="x"
        )
        sender = await user_admin.create_user(
            session, Settings(), operator, username="sender", password_hash="x"
        )
        for status_id in (7, 8):
            session.add(Status(id=status_id, account_id=reader.id, uri=f"urn:test:{status_id}"))
        await session.flush()
        rows = []
        for i in range(SCAN_CHUNK + 50):
            rows.append((id_for_time(NOON + i), "follow", None))
        for at, status in ((WINDOW_MS - 2, 7), (WINDOW_MS - 1, 8), (WINDOW_MS + 5, 7)):
            rows.append((id_for_time(NOON + at), "favourite", status))
        for i in range(3):
            rows.append((id_for_time(NOON + WINDOW_MS + 10 + i), "mention", 7))
        for notification_id, kind, status_id in rows:
            session.add(
                Notification(
                    id=notification_id,
                    account_id=reader.id,
                    from_account_id=sender.id,
                    type=kind,
                    status_id=status_id,
                )
            )
        await session.flush()
        return reader.id, sender.id

    return run(url, work)


def test_python_and_sql_keys_agree(database: str) -> None:
    seed(database)

    async def keys(session: AsyncSession) -> list[tuple[str, str]]:
        found = await session.execute(
            select(Notification.type, Notification.status_id, Notification.id, group_sql())
        )
        return [(group_key(t, s, i), k) for t, s, i, k in found.all()]

    pairs = run(database, keys)
    assert all(python == sql for python, sql in pairs)
    distinct = {k for _, k in pairs}
    # one follow group; favourites of status 7 in two windows and of 8 in one; 3 mentions
    assert len(distinct) == 1 + 3 + 3
    assert sum(k.startswith("ungrouped-") for k in distinct) == 3


def test_a_parsed_key_names_its_rows_only(database: str) -> None:
    seed(database)

    async def sizes(session: AsyncSession) -> dict[str, int]:
        found = await session.execute(select(group_sql()))
        out: dict[str, int] = {}
        for key in {k for (k,) in found.all()}:
            parsed = parse_group_key(key)
            assert parsed is not None
            rows = await session.execute(select(Notification.id).where(parsed.condition))
            out[key] = len(rows.all())
        return out

    sizes_by_key = run(database, sizes)
    assert sorted(sizes_by_key.values()) == [1, 1, 1, 1, 1, 1, SCAN_CHUNK + 50]
    assert parse_group_key("favourite-99999999999999999999-1") is None
    assert parse_group_key("follow-1; DROP TABLE notifications") is None


def test_groups_are_found_past_a_large_group(database: str) -> None:
    reader, _ = seed(database)
    query = select(Notification.id, group_sql()).where(Notification.account_id == reader)

    async def walk(session: AsyncSession) -> tuple[list[str], list[str], list[str]]:
        newest = await first_of_groups(session, query, 100)
        oldest = await first_of_groups(session, query, 2, oldest_first=True)
        few = await first_of_groups(session, query, 4)
        return list(newest.values()), list(oldest.values()), list(few.values())

    newest, oldest, few = run(database, walk)
    assert len(newest) == 7  # every group, the follows last, met only in the second chunk
    assert newest[-1].startswith("follow-")
    assert oldest[0].startswith("follow-")  # oldest first: the follows come first
    assert oldest[1].startswith("favourite-7-")
    assert few == newest[:4]
