"""Migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import sqlite3
import warnings
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import create_async_engine

from models.migrate import alembic_config, head_revision, known_revisions, upgrade
from models.search_index import OWN_TABLES
from models.tables import Base
from tests.kit import postgres_available, postgres_database, require_service


def _described(name: str | None, kind: str, _parent: object) -> bool:
    """The search index differs per database and is described by models/search_index.py."""
    return not (kind == "table" and name in OWN_TABLES)


def schema_drift(url: str) -> list[object]:
    async def compare() -> list[object]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(
                    lambda sync: compare_metadata(
                        MigrationContext.configure(sync, opts={"include_name": _described}),
                        Base.metadata,
                    )
                )
        finally:
            await engine.dispose()

    with warnings.catch_warnings():
        # Expression indexes (the case-insensitive handle index) cannot be reflected.
        warnings.filterwarnings("ignore", message=".*expression-based index.*")
        warnings.filterwarnings("ignore", message=".*unsupported reflection of expression.*")
        return asyncio.run(compare())


def test_sqlite_schema_matches_models(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'schema.db'}"
    upgrade(url)
    upgrade(url)  # idempotent
    assert schema_drift(url) == []


def test_postgres_schema_matches_models() -> None:
    available, reason = postgres_available()
    require_service("PostgreSQL", available, reason)
    with postgres_database() as url:
        upgrade(url)
        assert schema_drift(url) == []


def test_handles_are_unique_regardless_of_case(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'unique.db'}"
    upgrade(url)
    db = sqlite3.connect(tmp_path / "unique.db")
    insert = (
        "INSERT INTO accounts (id, username, domain, display_name, note, note_source, fields,"
        ' locked, bot, "group", discoverable, statuses_count, followers_count,'
        " following_count, created_at, updated_at) VALUES (?, ?, ?, '', '', '', '[]', 0, 0,"
        " 0, 1, 0, 0, 0, '2026-01-01', '2026-01-01')"
    )
    db.execute(insert, (1, "Ada", None))
    db.execute(insert, (2, "ada", "sales.flurfunk.test"))  # the same name elsewhere is fine
    with pytest.raises(sqlite3.IntegrityError):
        db.execute(insert, (3, "ADA", None))
    db.close()


def test_revisions_are_read_without_alembic_as_alembic_reads_them() -> None:
    """A serving process checks its schema from the file names alone (no Alembic loaded)."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    chain = [revision.revision for revision in reversed(list(script.walk_revisions()))]
    assert known_revisions() == chain
    assert head_revision() == script.get_current_head()
