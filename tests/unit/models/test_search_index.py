"""The search index: what text a status is indexed by, and a database migrated from before the
index that finds its old posts afterwards (backfill), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from models.db import Database
from models.migrate import alembic_config, upgrade
from models.search_index import TABLE, body_of, config_for, plain_text, status_matches
from models.tables import Account, Status
from tests.kit import postgres_available, postgres_database, require_service


def test_plain_text_keeps_words_and_drops_markup() -> None:
    html = (
        '<p>Hallo <span class="h-card"><a href="https://hq.example/@ada" class="u-url mention">'
        "@<span>ada</span></a></span> &amp; Team</p><p>Zweiter&nbsp;Absatz<br>Ende</p>"
    )
    words = plain_text(html).split()
    assert words == ["Hallo", "@ada", "&", "Team", "Zweiter", "Absatz", "Ende"]
    assert "href" not in plain_text(html)
    assert "mention" not in plain_text(html)
    assert body_of("Spoiler", "<p>Text</p>").split() == ["Spoiler", "Text"]


@pytest.mark.parametrize(
    ("language", "default", "config"),
    [
        ("de", "en", "german"),
        ("de-AT", "en", "german"),
        ("en", "de", "english"),
        (None, "de", "german"),
        ("", "en", "english"),
        ("xx", "de", "german"),
        (None, "xx", "simple"),
    ],
)
def test_stemming_follows_the_language_else_the_default(
    language: str | None, default: str, config: str
) -> None:
    assert config_for(language, default) == config


async def _old_post_is_found(url: str) -> list[int]:
    db = Database(url)
    try:
        async with db.read() as session:
            matches = status_matches(
                session.get_bind().dialect.name, ["Berichte"], ["Entwurf"], "de"
            )
            found = await session.execute(text("SELECT 1"))  # the connection works
            assert found.scalar() == 1
            rows = await session.execute(Status.__table__.select().where(matches))
            return [row.id for row in rows]
    finally:
        await db.dispose()


async def _insert_old_posts(url: str) -> None:
    db = Database(url)
    try:
        async with db.write() as session:
            await session.execute(
                text(
                    "INSERT INTO accounts (id, username, display_name, note, note_source, fields,"
                    ' locked, bot, "group", discoverable, statuses_count, followers_count,'
                    " following_count, created_at, updated_at) VALUES (1, 'ada', '', '', '',"
                    " '[]', false, false, false, true, 0, 0, 0, '2026-01-01', '2026-01-01')"
                )
            )
            for status_id, words in (
                (10, "Der Bericht"),
                (11, "Bericht, Entwurf"),
                (12, "Kantine"),
            ):
                await session.execute(
                    text(
                        "INSERT INTO statuses (id, account_id, local, text, content_type, content,"
                        " spoiler_text, sensitive, visibility, language, replies_count,"
                        " reblogs_count, favourites_count, created_at) VALUES (:id, 1, true,"
                        " :words, 'text/plain', :html, '', false, 'public', 'de', 0, 0, 0,"
                        " '2026-01-01')"
                    ),
                    {"id": status_id, "words": words, "html": f"<p>{words}</p>"},
                )
    finally:
        await db.dispose()


def _backfill_then_delete(url: str) -> None:
    command.upgrade(alembic_config(url), "0011")
    asyncio.run(_insert_old_posts(url))
    upgrade(url, "de")
    assert asyncio.run(_old_post_is_found(url)) == [10]

    async def delete_author() -> int:
        db = Database(url)
        async with db.write() as session:
            await session.execute(Account.__table__.delete())
            left = await session.execute(text(f"SELECT count(*) FROM {TABLE}"))
        await db.dispose()
        return int(left.scalar_one())

    # The statuses go with the account, and their index rows with them.
    assert asyncio.run(delete_author()) == 0
    assert asyncio.run(_old_post_is_found(url)) == []


def test_migration_backfills_existing_posts_on_sqlite(tmp_path: Path) -> None:
    _backfill_then_delete(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")


def test_migration_backfills_existing_posts_on_postgres() -> None:
    available, reason = postgres_available()
    require_service("PostgreSQL", available, reason)
    with postgres_database() as url:
        _backfill_then_delete(url)
