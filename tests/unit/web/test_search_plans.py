"""Both plans of a status search on PostgreSQL find the same posts, page alike and honour
visibility: collecting the few matches from the GIN index, and walking the newest statuses
(the plan for a word with more matches than `few_matches`, lowered here so that a small
table takes it). Afterwards the transaction is planned as before the search."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import text

from models.db import Database
from models.migrate import upgrade
from models.search_index import planned_status_matches
from models.settings import Settings
from models.tables import Account, Follow, Status
from tests.kit import postgres_available, postgres_database, require_service
from web.api.base import Page
from web.api.search_statuses import StatusSearch, find_statuses


@dataclass(frozen=True)
class Posts:
    bob: int  # follows nobody
    cem: int  # follows the author
    statuses: list[tuple[int, str, str]]  # (id, words, visibility) in posting order


WALK = 0  # every word has more estimated matches than this
COLLECT = 1_000_000


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    available, reason = postgres_available()
    require_service("PostgreSQL", available, reason)
    with postgres_database() as url:
        upgrade(url)
        yield url


async def _posts(url: str) -> Posts:
    db = Database(url)
    async with db.write() as session:
        ada, bob, cem = (
            Account(username=name, domain=None, display_name=name) for name in ("ada", "bob", "cem")
        )
        session.add_all([ada, bob, cem])
        await session.flush()
        session.add(Follow(account_id=cem.id, target_account_id=ada.id))
        statuses: list[tuple[int, str, str]] = []
        for n in range(40):
            words = "Berichte zum Quartal" if n % 2 == 0 else "Kantine heute"
            if n % 10 == 4:
                words += " Entwurf"
            status = Status(
                account_id=ada.id,
                text=f"{words} {n}",
                content=f"<p>{words} {n}</p>",
                language="de",
                visibility="private" if n % 8 == 6 else "public",
            )
            session.add(status)
            await session.flush()  # one at a time: ids in posting order
            statuses.append((status.id, words, status.visibility))
    async with db.write() as session:
        await session.execute(text("ANALYZE"))
    await db.dispose()
    return Posts(bob.id, cem.id, statuses)


@pytest.fixture(scope="module")
def posts(url: str) -> Posts:
    return asyncio.run(_posts(url))


async def _find(url: str, viewer: int, q: str, page: Page, few_matches: int) -> list[int]:
    db = Database(url)
    settings = Settings(database_url=url, public_url="http://search.example")
    try:
        async with db.read() as session:
            before = (await session.execute(text("SHOW enable_bitmapscan"))).scalar_one()
            wanted = StatusSearch(q, viewer, settings, page, few_matches=few_matches)
            rows = await find_statuses(session, wanted, type_asked=True, min_words=3)
            after = (await session.execute(text("SHOW enable_bitmapscan"))).scalar_one()
            assert (before, after) == ("on", "on")  # the rest of the request plans as usual
            return [row.id for row in rows]
    finally:
        await db.dispose()


def _expected(posts: Posts, follower: bool, excluded: bool = False) -> list[int]:
    return sorted(
        (
            status_id
            for status_id, words, visibility in posts.statuses
            if "Berichte" in words
            and (visibility == "public" or follower)
            and not (excluded and "Entwurf" in words)
        ),
        reverse=True,
    )


@pytest.mark.parametrize("few_matches", [WALK, COLLECT], ids=["walk", "collect"])
def test_both_plans_find_the_same_newest_first(url: str, posts: Posts, few_matches: int) -> None:
    bob, cem = posts.bob, posts.cem
    everything = Page(None, None, None, 40)
    public = _expected(posts, follower=False)
    assert asyncio.run(_find(url, bob, "Bericht", everything, few_matches)) == public
    # The follower also finds the followers-only posts.
    with_private = _expected(posts, follower=True)
    assert len(with_private) > len(public)
    assert asyncio.run(_find(url, cem, "Bericht", everything, few_matches)) == with_private
    without_draft = _expected(posts, follower=False, excluded=True)
    assert asyncio.run(_find(url, bob, "Bericht -Entwurf", everything, few_matches)) == (
        without_draft
    )


@pytest.mark.parametrize("few_matches", [WALK, COLLECT], ids=["walk", "collect"])
def test_both_plans_page_alike(url: str, posts: Posts, few_matches: int) -> None:
    bob = posts.bob
    public = _expected(posts, follower=False)

    def page(**cursor: int) -> list[int]:
        wanted = Page(cursor.get("max_id"), None, cursor.get("min_id"), 4, cursor.get("offset", 0))
        return asyncio.run(_find(url, bob, "Berichte", wanted, few_matches))

    assert page() == public[:4]
    assert page(max_id=public[3]) == public[4:8]
    assert page(offset=4) == public[4:8]
    assert page(min_id=public[8]) == public[4:8]


async def _plan(url: str, few_matches: int) -> dict[str, str]:
    db = Database(url)
    async with db.read() as session:
        planned = await planned_status_matches(
            session, ["Berichte"], [], "de", few_matches=few_matches
        )
    await db.dispose()
    return planned.settings


def test_the_threshold_picks_the_plan(url: str, posts: Posts) -> None:
    assert posts  # the table holds matches, and statistics about them
    assert asyncio.run(_plan(url, WALK)).get("enable_bitmapscan") == "off"
    assert "enable_bitmapscan" not in asyncio.run(_plan(url, COLLECT))
