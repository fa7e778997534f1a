"""Bring a database schema up to date with Alembic (idempotent)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from models.db import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    config.attributes["database_url"] = url
    return config


def upgrade(url: str) -> None:
    """Apply every pending migration. Runs its own event loop: call it outside one."""
    command.upgrade(alembic_config(url), "head")


async def schema_problem(db: Database) -> str | None:
    """Why this code cannot run on the database's schema yet (None when it can).

    Processes on PostgreSQL never migrate by themselves: `flurfunk migrate` runs first, then
    the new processes roll out. A schema newer than this code (the rollout has begun) is
    accepted: a migration must keep working with the previous version's code, so that old
    processes serve on until they are replaced.
    """
    script = ScriptDirectory.from_config(alembic_config(db.url))
    try:
        async with db.read() as session:
            found = set(
                (await session.execute(text("SELECT version_num FROM alembic_version"))).scalars()
            )
    except ProgrammingError:
        return "the database has no schema yet: run `flurfunk migrate` first"
    head = script.get_current_head()
    if head in found:
        return None
    known = {revision.revision for revision in script.walk_revisions()}
    if not found or found & known:
        return f"the database schema is behind this version ({head}): run `flurfunk migrate` first"
    return None
