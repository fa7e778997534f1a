"""Storing received activities with group commit.

A commit costs about as much as verifying a signature, so one transaction per request caps
a node at ~1 k activities/s while a transaction of hundreds of rows costs little more than one
row. Requests therefore hand their row to the process's `InboxWriter` and wait: a flusher
writes everything that is waiting in one transaction, then answers each request; requests
that arrive meanwhile form the next batch. At low load a batch is one row and nothing waits.

Nothing is acknowledged before its transaction committed. A duplicate — in the same batch,
from an earlier one, or from another process — is stored once (insert-or-ignore on the
activity id) and still answered as accepted. If a batch fails, its rows are written one by
one, so one row the database refuses costs only that row.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import utcnow
from models.db import Database
from models.federation import InboxActivity
from models.ids import new_id
from outbox.hosts import host_is_alive

log = logging.getLogger("flurfunk.inbox")
MAX_BATCH = 500
ALIVE_EVERY = 1.0  # seconds


@dataclass(frozen=True)
class Received:
    """A verified activity, ready to be stored."""

    activity_uri: str
    actor_uri: str
    type: str
    payload: str
    signer_host: str


class Refused(Exception):
    """The database refuses this activity (a value it cannot hold); retrying will not help."""


_Waiting = tuple[Received, "asyncio.Future[int | None]"]


class InboxWriter:
    def __init__(self, db: Database, *, max_batch: int = MAX_BATCH) -> None:
        self.db = db
        self.max_batch = max_batch
        self._waiting: list[_Waiting] = []
        self._flusher: asyncio.Task[None] | None = None
        self._alive_at: dict[str, float] = {}  # host -> when it was last marked alive

    async def store(self, item: Received) -> int | None:
        """The new row's id once committed, or None when the activity was stored before.

        Raises Refused for a row the database will not take, or the database's error when
        it could not be stored for another reason (the sender should retry later).
        """
        future: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            # Requests that arrived in the same turn of the event loop join the first batch.
            await asyncio.sleep(0)
            while self._waiting:
                batch = self._waiting[: self.max_batch]
                del self._waiting[: self.max_batch]
                try:
                    await self._write(batch)
                except BaseException as exc:
                    _fail(batch, f"not stored: {exc!r}")
                    raise
        finally:
            self._flusher = None
            # Only reached with requests still waiting if this task was cancelled (shutdown):
            # they must not hang, and they were not stored.
            _fail(self._waiting, "not stored: the node is stopping")
            self._waiting.clear()

    async def _write(self, batch: list[_Waiting]) -> None:
        first: dict[str, Received] = {}
        for item, _ in batch:
            first.setdefault(item.activity_uri, item)
        try:
            stored = await self._insert(list(first.values()))
        except Exception as exc:  # retried row by row just below; nothing is lost or faked
            log.warning("group commit of %d activities failed (%s); one by one", len(first), exc)
            await self._write_singly(batch, first)
            return
        _settle(batch, {uri: (stored.get(uri), None) for uri in first})

    async def _write_singly(self, batch: list[_Waiting], first: dict[str, Received]) -> None:
        outcomes: dict[str, tuple[int | None, BaseException | None]] = {}
        for uri, item in first.items():
            outcomes[uri] = await self._insert_one(item)
        _settle(batch, outcomes)

    async def _insert_one(self, item: Received) -> tuple[int | None, BaseException | None]:
        for attempt in (1, 2):
            try:
                return (await self._insert([item])).get(item.activity_uri), None
            except DBAPIError as exc:
                if isinstance(exc, IntegrityError) and attempt == 1:
                    continue  # the only unique key left is the id: a fresh one will do
                if _refuses_the_data(exc):
                    return None, Refused(str(exc.orig)[:200])
                return None, exc
            except Exception as exc:  # handed to the waiting request, which answers 503
                return None, exc
        raise AssertionError("unreachable")

    async def _insert(self, items: list[Received]) -> dict[str, int]:
        """Insert the rows that are new in one transaction; returns {activity uri: new id}."""
        now, moment = utcnow(), time.monotonic()
        rows = [_row(item, new_id(), now) for item in items]
        # Any activity from a host shows it is alive (its waiting deliveries become due); once
        # a second per host is enough, and saves two statements in most transactions.
        alive = sorted(
            host
            for host in {item.signer_host for item in items}
            if moment - self._alive_at.get(host, -ALIVE_EVERY) >= ALIVE_EVERY
        )
        async with self.db.write() as session:
            # One cached statement, executed for many rows (SQLAlchemy sends it as a
            # multi-row INSERT … RETURNING); RETURNING names only the rows that were new.
            result = await session.execute(_insert_statement(session), rows)
            stored = {uri: row_id for row_id, uri in result.all()}
            for host in alive:
                await host_is_alive(session, host, now)
        if len(self._alive_at) > 10_000:
            self._alive_at.clear()
        self._alive_at.update(dict.fromkeys(alive, moment))
        return stored


def _settle(
    batch: list[_Waiting], outcomes: dict[str, tuple[int | None, BaseException | None]]
) -> None:
    """Answer every waiting request; only the first request of an activity gets its new id."""
    answered: set[str] = set()
    for item, future in batch:
        if future.done():  # the request went away; its row is stored all the same
            continue
        stored_id, error = outcomes[item.activity_uri]
        if error is not None:
            future.set_exception(error)
        elif item.activity_uri in answered:
            future.set_result(None)
        else:
            answered.add(item.activity_uri)
            future.set_result(stored_id)


def _refuses_the_data(exc: DBAPIError) -> bool:
    """A value the database will never take (SQLSTATE class 22 data exception or 23 integrity
    violation), as opposed to a database that is unavailable for now."""
    if isinstance(exc, (DataError, IntegrityError)):
        return True
    state = getattr(exc.orig, "sqlstate", None)  # asyncpg reports most errors generically
    return isinstance(state, str) and state[:2] in ("22", "23")


def _fail(batch: list[_Waiting], reason: str) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(ConnectionAbortedError(reason))


def _row(item: Received, row_id: int, now: datetime) -> dict[str, Any]:
    return {
        "id": row_id,
        "activity_uri": item.activity_uri,
        "actor_uri": item.actor_uri,
        "type": item.type,
        "payload": item.payload,
        "signer_host": item.signer_host,
        "received_at": now,
        "next_attempt_at": now,
        "attempts": 0,
        "failed": False,
    }


_TABLE = cast(Table, InboxActivity.__table__)  # Core, not the ORM: no per-row ORM bookkeeping
_INSERTS = {
    name: insert(_TABLE)
    .on_conflict_do_nothing(index_elements=["activity_uri"])
    .returning(_TABLE.c.id, _TABLE.c.activity_uri)
    for name, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}


def _insert_statement(session: AsyncSession) -> Any:
    return _INSERTS[session.get_bind().dialect.name]


_writers: weakref.WeakKeyDictionary[Database, InboxWriter] = weakref.WeakKeyDictionary()


def writer_for(db: Database) -> InboxWriter:
    """The one writer of this process for `db` (batches only help if requests share it)."""
    writer = _writers.get(db)
    if writer is None:
        writer = _writers[db] = InboxWriter(db)
    return writer
