"""PostgreSQL connections are pinged only after lying idle: a busy pool sends nothing but its
own statements, and a connection the server dropped while idle is replaced unnoticed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import event, text

from models import db
from tests.kit import postgres_available, postgres_database, require_service


async def _walk(url: str) -> tuple[list[str], int, int]:
    engine = db.create_engine(url, pool_size=1, max_overflow=0)
    sent: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", note)
    dialect = engine.sync_engine.dialect
    ping = dialect.do_ping

    def counted_ping(dbapi_connection: Any) -> bool:
        sent.append("ping")
        return ping(dbapi_connection)

    dialect.do_ping = counted_ping  # type: ignore[method-assign]
    try:
        async with engine.connect() as conn:
            first = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        async with engine.connect() as conn:  # just used: taken without a ping
            await conn.execute(text("SELECT 1"))
        busy = list(sent)
        other = db.create_engine(url)
        async with other.connect() as conn:
            await conn.execute(text(f"SELECT pg_terminate_backend({first})"))
        await other.dispose()
        await asyncio.sleep(db.PING_AFTER_IDLE + 0.1)
        async with engine.connect() as conn:  # idle and dead: pinged and replaced
            second = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        assert sent[-2:] == ["ping", "SELECT pg_backend_pid()"]
        return busy, first, second
    finally:
        await engine.dispose()


def test_idle_dead_connection_is_replaced_and_busy_pool_is_not_pinged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    available, reason = postgres_available()
    require_service("PostgreSQL", available, reason)
    monkeypatch.setattr(db, "PING_AFTER_IDLE", 0.3)
    with postgres_database() as url:
        busy, first, second = asyncio.run(_walk(url))
    assert busy == ["SELECT pg_backend_pid()", "SELECT 1"]
    assert second != first
