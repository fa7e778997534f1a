"""The trends job: however many processes of a node run it (web processes without Redis,
`flurfunk worker`s with it), one of them computes per interval; and what it computes leaves
out non-public posts, suspended accounts and hosts the allowlist no longer admits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import select, update

from models import allowlist
from models.account import Account
from models.db import Database
from models.discovery import TrendItem
from models.migrate import upgrade
from models.settings import Settings
from models.status import Status
from outbox import trends
from outbox.accounts import create_local_account
from outbox.context import Federation
from outbox.status_parts import store_tags
from outbox.statuses import Draft, post_status
from tests.kit import postgres_available, postgres_database, require_service
from web.runtime import build_federation


@asynccontextmanager
async def processes(url: str, tmp_path: Path, count: int) -> AsyncIterator[list[Federation]]:
    """`count` processes' worth of federation context on one database: one engine each."""
    settings = Settings(public_url="http://hq.flurfunk.test", data_dir=tmp_path, database_url=url)
    made: list[Federation] = []
    try:
        for _ in range(count):
            made.append(await build_federation(settings, Database(url)))
        yield made
    finally:
        for fed in made:
            await fed.client.aclose()
            await fed.db.dispose()


async def _one_computes(url: str, tmp_path: Path) -> None:
    async with processes(url, tmp_path, 4) as feds:
        async with feds[0].db.write() as session:
            for name in ("ada", "ben", "cem"):
                author = await create_local_account(
                    session, feds[0].settings, username=name, password_hash="x"
                )
                await post_status(
                    session, feds[0].settings, author, Draft(text="#launch", visibility="public")
                )
            hush = await create_local_account(
                session, feds[0].settings, username="hush", password_hash="x"
            )
            for _ in range(3):
                await post_status(
                    session, feds[0].settings, hush, Draft(text="#secret", visibility="private")
                )
        results = await asyncio.gather(*(trends.refresh(fed) for fed in feds))
        assert sorted(results, key=lambda r: r is None) == [1, None, None, None]
        # Within the interval nobody computes again, not even the process that did.
        assert await asyncio.gather(*(trends.refresh(fed) for fed in feds)) == [None] * 4
        async with feds[1].db.read() as session:
            items = (await session.execute(select(TrendItem))).scalars().all()
        assert [(i.kind, i.label, i.accounts) for i in items] == [("tag", "launch", 3)]

        # A suspended author no longer counts, once the next interval is due.
        async with feds[0].db.write() as session:
            await session.execute(
                update(Account)
                .where(Account.username == "ada")
                .values(suspended_at=items[0].computed_at)
            )
        async with feds[2].db.write() as session:
            assert await trends.compute(session, feds[2].allowlist()) == 1
        async with feds[2].db.read() as session:
            again = (await session.execute(select(TrendItem))).scalars().one()
        assert again.accounts == 2
        assert again.history[0]["accounts"] == 2


async def test_one_of_several_processes_computes_the_trends_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'node.db'}"
    await asyncio.to_thread(upgrade, url)
    await _one_computes(url, tmp_path)


def test_one_of_several_processes_computes_the_trends_on_postgresql(tmp_path: Path) -> None:
    available, reason = postgres_available()
    require_service("PostgreSQL", available, reason)
    with postgres_database() as url:
        upgrade(url)
        asyncio.run(_one_computes(url, tmp_path))


async def test_posts_from_a_host_no_longer_allowed_leave_the_trends(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'node.db'}"
    await asyncio.to_thread(upgrade, url)
    async with processes(url, tmp_path, 1) as (fed,):
        async with fed.db.write() as session:
            await allowlist.add(session, "sales.corp.example", "test")
            local = await create_local_account(
                session, fed.settings, username="ada", password_hash="x"
            )
            await post_status(session, fed.settings, local, Draft(text="#launch"))
            for name in ("sara", "sam"):
                remote = Account(
                    username=name,
                    domain="sales.corp.example",
                    uri=f"https://sales.corp.example/users/{name}",
                )
                session.add(remote)
                await session.flush()
                status = Status(account_id=remote.id, local=False, text="#launch", content="")
                session.add(status)
                await session.flush()
                await store_tags(session, status.id, ["launch"])
        await fed.allowlist.refresh()

        async def launch_accounts() -> int:
            async with fed.db.write() as session:
                await trends.compute(session, fed.allowlist())
                item = (await session.execute(select(TrendItem))).scalars().one()
                return item.accounts

        assert await launch_accounts() == 3
        async with fed.db.write() as session:
            await allowlist.remove(session, "sales.corp.example", "test")
        await fed.allowlist.refresh()
        assert await launch_accounts() == 1


@pytest.mark.parametrize("url", ["https://wiki.corp.example/a?b=1&amp;c=2"])
def test_links_in_posts_are_told_from_mentions_and_hashtags(url: str) -> None:
    content = (
        '<p><span class="h-card"><a href="https://sales.corp.example/@sara">@sara</a></span> '
        '<a href="https://hq.corp.example/tags/launch" rel="tag">#launch</a> '
        f'<a href="{url}" rel="nofollow">wiki</a> <a href="mailto:x@example.com">mail</a></p>'
    )
    found = trends._shared_links(content, {"https://sales.corp.example/@sara"})
    assert found == {"https://wiki.corp.example/a?b=1&c=2"}
