"""Bring a database schema up to date with Alembic (idempotent), and check it without Alembic.

Alembic and Mako are imported only to migrate: a serving process whose schema is current
never loads them (~10 MB of memory it would carry for its whole life).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import OperationalError, ProgrammingError

from models.db import Database

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str, default_language: str = "en") -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    config.attributes["database_url"] = url
    config.attributes["default_language"] = default_language  # stems the search backfill
    return config


def upgrade(url: str, default_language: str = "en") -> None:
    """Apply every pending migration. Runs its own event loop: call it outside one."""
    from alembic import command

    command.upgrade(alembic_config(url, default_language), "head")
    asyncio.run(_index_what_is_missing(url, default_language))


async def _index_what_is_missing(url: str, default_language: str) -> None:
    """Rows written by processes of an older version during a rollout reach the search index."""
    from models.search_backfill import backfill

    db = Database(url)
    try:
        async with db.engine.begin() as connection:
            await connection.run_sync(backfill, default_language)
    finally:
        await db.dispose()


def known_revisions() -> list[str]:
    """Every revision this code knows, oldest first: migrations are named `NNNN_<what>.py`
    and revision NNNN follows NNNN-1 (a unit test holds Alembic's own graph to this)."""
    return sorted(
        path.name.split("_", 1)[0] for path in (MIGRATIONS / "versions").glob("[0-9]*_*.py")
    )


def head_revision() -> str:
    return known_revisions()[-1]


async def stored_revisions(db: Database) -> set[str] | None:
    """The revisions recorded in the database; None when it has no schema at all."""
    try:
        async with db.read() as session:
            return set(
                (await session.execute(text("SELECT version_num FROM alembic_version"))).scalars()
            )
    except ProgrammingError:  # PostgreSQL: no alembic_version table
        return None
    except OperationalError as exc:
        if "no such table" in str(exc):  # SQLite says it this way; other errors are real
            return None
        raise


async def schema_problem(db: Database) -> str | None:
    """Why this code cannot run on the database's schema yet (None when it can).

    Processes on PostgreSQL never migrate by themselves: `flurfunk migrate` runs first, then
    the new processes roll out. A schema newer than this code (the rollout has begun) is
    accepted: a migration must keep working with the previous version's code, so that old
    processes serve on until they are replaced.
    """
    found = await stored_revisions(db)
    if found is None:
        return "the database has no schema yet: run `flurfunk migrate` first"
    head = head_revision()
    if head in found:
        return None
    if not found or found & set(known_revisions()):
        return f"the database schema is behind this version ({head}): run `flurfunk migrate` first"
    return None
