"""A fresh database of each backend for tests that talk to storage directly (no node)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from models.migrate import upgrade
from tests.kit import postgres_available, postgres_database, require_service


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Migrated, empty; sync on purpose: the PostgreSQL set-up runs an event loop of its own."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'node.db'}"
        upgrade(url)
        yield url
        return
    available, reason = postgres_available()
    require_service("PostgreSQL", available, reason)
    with postgres_database() as url:
        upgrade(url)
        yield url
