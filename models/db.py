"""The database handle: one async engine, read and write sessions.

SQLite is the embedded default. It runs in WAL mode with a busy timeout so that CLI commands
can write while `serve` runs; write transactions begin IMMEDIATE (taking the write lock up
front, so two writers never deadlock upgrading a read lock) and are serialised inside a process
by an asyncio lock, so they queue instead of spinning on SQLITE_BUSY. PostgreSQL needs neither.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from models import search_index
from models.settings import Settings

AFTER_COMMIT = "flurfunk.after_commit"
PING_AFTER_IDLE = 10.0  # seconds a pooled PostgreSQL connection may idle unpinged
_RETURNED_AT = "flurfunk.returned_at"

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA busy_timeout=10000",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=NORMAL",
)


def database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    return f"sqlite+aiosqlite:///{(settings.data_dir / 'flurfunk.db').resolve()}"


def create_engine(url: str, pool_size: int = 10, max_overflow: int | None = None) -> AsyncEngine:
    if not url.startswith("sqlite"):
        overflow = pool_size if max_overflow is None else max_overflow
        engine = create_async_engine(url, pool_size=pool_size, max_overflow=overflow)
        _ping_when_idle(engine)
        return engine
    engine = create_async_engine(url)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy's "begin" event below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Ping a pooled connection only when it has lain idle for PING_AFTER_IDLE seconds.

    `pool_pre_ping` would cost a round trip on every checkout, even on a busy, healthy pool.
    A connection that was just used is alive; one that lay idle may have been closed by the
    server or a restart, so it is pinged, and a dead one is replaced (SQLAlchemy retries the
    checkout after a DisconnectionError). A connection that dies in use fails its statement
    and is invalidated by SQLAlchemy, as before.
    """
    dialect = engine.sync_engine.dialect

    @event.listens_for(engine.sync_engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get(_RETURNED_AT)
        if returned is None or time.monotonic() - returned < PING_AFTER_IDLE:
            return  # new (just connected) or recently used
        try:
            alive = dialect.do_ping(dbapi_connection)
        except Exception as exc:  # what a dead connection raises depends on the driver
            raise DisconnectionError() from exc
        if not alive:
            raise DisconnectionError()


def after_commit(session: AsyncSession, fact: object) -> None:
    """Hand `fact` to the database's `on_commit` hook once this write transaction has
    committed; a transaction that rolls back hands over nothing."""
    session.info.setdefault(AFTER_COMMIT, []).append(fact)


class Database:
    """Sessions for reading and for writing; a write session commits on success.

    `on_commit`, when set, receives the facts recorded with `after_commit` by each committed
    write transaction (the stream events are published from them).
    """

    def __init__(
        self,
        url: str,
        pool_size: int = 10,
        max_overflow: int | None = None,
        default_language: str = "",
    ) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.engine = create_engine(url, pool_size, max_overflow)
        write_engine = (
            self.engine.execution_options(sqlite_immediate=True) if self.is_sqlite else self.engine
        )
        # The search index stems a status without a language by the node's default language.
        info = {search_index.DEFAULT_LANGUAGE_KEY: default_language}
        self._read = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self._write = async_sessionmaker(
            write_engine, expire_on_commit=False, autoflush=False, info=info
        )
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        self.on_commit: Callable[[list[object]], Awaitable[None]] | None = None

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._read() as session:
            yield session

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """One transaction: everything in the block commits together or not at all."""
        async with contextlib.AsyncExitStack() as stack:
            if self._write_lock is not None:
                await stack.enter_async_context(self._write_lock)
            session = await stack.enter_async_context(self._write())
            async with session.begin():
                yield session
            facts: list[object] = session.info.pop(AFTER_COMMIT, [])
        # After the lock is released: what is published may be read at once.
        if facts and self.on_commit is not None:
            await self.on_commit(facts)

    async def dispose(self) -> None:
        await self.engine.dispose()


def upsert(session: AsyncSession, model: Any) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that can say ON CONFLICT on either database: concurrent writers of the same
    row (a marker, a followed tag) then neither fail nor duplicate it."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)
