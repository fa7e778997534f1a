"""Bulk-seed a node's database for benchmarks: accounts, follows, statuses, home feeds.

Writes rows directly (not through the API) and produces exactly what the API would have
written: the home feed of every local follower holds every status of the accounts it follows,
and the author's own (fan-out on write). Statuses go in with PostgreSQL's COPY (multi-row
INSERTs on SQLite); the feed — 31 M rows at 1 M statuses with 30 follows each — is derived
on the server by one INSERT … SELECT from statuses and follows, so nothing of that size
passes through Python. On PostgreSQL the feed's indexes are built after the load (a sort is
far cheaper than 31 M index insertions), and VACUUM ANALYZE afterwards sets the visibility
map, so that reading a page is an index-only range scan as on a long-running node.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import insert, text

from models.db import Database
from models.ids import new_id
from models.tables import AccessToken, Account, Follow, Status, User
from web.auth import digest, hash_password, new_token

CHUNK = 5_000
COPY_CHUNK = 100_000
STATUS_SPAN_MS = 100 * 86_400_000  # statuses spread over the last 100 days

# The author's own entry plus one per follower; followers are local accounts (all seeded
# accounts are local), so this is what outbox fan-out writes. In the order of the posts, as
# fan-out writes them: the rows then lie in the table in time order, as on a node that has
# been posting. (Without the ORDER BY, a hash join scatters them: every heap page then holds
# rows of all ages, and deleting old posts makes the newest rows' pages lose their
# all-visible bit, which a real node's feed does not suffer.)
FEED_FROM_STATUSES = """
INSERT INTO feed_entries (account_id, status_id, author_id)
SELECT account_id, status_id, author_id FROM (
    SELECT s.account_id, s.id AS status_id, s.account_id AS author_id FROM statuses s
    UNION ALL
    SELECT f.account_id, s.id, s.account_id
    FROM statuses s JOIN follows f ON f.target_account_id = s.account_id
) AS fan_out
ORDER BY status_id
"""


@dataclass
class Seeded:
    account_ids: list[int]
    tokens: dict[int, str]  # account id -> bearer token
    statuses: int
    feed_entries: int
    seconds: float


def _postgres_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _insert(db: Database, model: object, rows: list[dict[str, object]]) -> None:
    for start in range(0, len(rows), CHUNK):
        async with db.write() as session:
            await session.execute(insert(model), rows[start : start + CHUNK])  # type: ignore[arg-type]


def _accounts(public_url: str, count: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    password_hash = hash_password("bench-password")
    account_rows, user_rows = [], []
    for i in range(count):
        account_id = new_id()
        name = f"bench{i}"
        account_rows.append(
            {
                "id": account_id,
                "username": name,
                "domain": None,
                "display_name": f"Bench {i}",
                "note": "",
                "note_source": "",
                "fields": [],
                "uri": f"{public_url}/users/{name}",
                "url": f"{public_url}/@{name}",
            }
        )
        user_rows.append(
            {
                "account_id": account_id,
                "email": f"{name}@bench.example",
                "password_hash": password_hash,
                "role": "user",
                "preferences": {},
            }
        )
    return account_rows, user_rows


def _follows(ids: list[int], per_account: int, rng: random.Random) -> list[dict[str, Any]]:
    rows = []
    for a in ids:
        # One spare draw, so that leaving out the account itself still leaves enough.
        for target in [t for t in rng.sample(ids, per_account + 1) if t != a][:per_account]:
            rows.append({"id": new_id(), "account_id": a, "target_account_id": target})
    return rows


def _statuses(ids: list[int], count: int, rng: random.Random) -> Iterator[dict[str, Any]]:
    """Oldest first, so that ids grow with time, by authors drawn at random."""
    now_ms = int(time.time() * 1000)
    for n in range(count):
        at_ms = now_ms - STATUS_SPAN_MS + (STATUS_SPAN_MS * n) // count
        status_id = new_id(at_ms)
        yield {
            "id": status_id,
            "created_at": datetime.fromtimestamp(at_ms / 1000, UTC).replace(tzinfo=None),
            "account_id": rng.choice(ids),
            "local": True,
            "text": f"Status number {n}",
            "content_type": "text/plain",
            "content": f"<p>Status number {n}</p>",
            "spoiler_text": "",
            "sensitive": False,
            "visibility": "public",
            "thread_id": status_id,
            "replies_count": 0,
            "reblogs_count": 0,
            "favourites_count": 0,
        }


async def _copy(conn: asyncpg.Connection, table: str, rows: Iterator[dict[str, Any]]) -> None:
    """COPY dict rows into `table` in chunks (the keys of the first row name the columns)."""
    batch: list[dict[str, Any]] = []

    async def flush() -> None:
        columns = list(batch[0])
        records = [tuple(row[c] for c in columns) for row in batch]
        await conn.copy_records_to_table(table, records=records, columns=columns)
        batch.clear()

    for row in rows:
        batch.append(row)
        if len(batch) >= COPY_CHUNK:
            await flush()
    if batch:
        await flush()


async def _feed_on_postgres(conn: asyncpg.Connection) -> None:
    """Derive the feed with its indexes dropped, then build them again exactly as they were."""
    primary = await conn.fetchrow(
        "SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint "
        "WHERE conrelid = 'feed_entries'::regclass AND contype = 'p'"
    )
    indexes = await conn.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'feed_entries' "
        "AND indexname <> $1",
        primary["conname"],
    )
    # The rows are correct by construction; replica mode skips 62 M foreign-key checks.
    await conn.execute("SET session_replication_role = replica")
    await conn.execute("SET maintenance_work_mem = '1GB'")
    await conn.execute("SET work_mem = '1GB'")  # the ORDER BY sorts in memory
    async with conn.transaction():
        for index in indexes:
            await conn.execute(f'DROP INDEX "{index["indexname"]}"')
        await conn.execute(f'ALTER TABLE feed_entries DROP CONSTRAINT "{primary["conname"]}"')
        await conn.execute(FEED_FROM_STATUSES)
        await conn.execute(
            f'ALTER TABLE feed_entries ADD CONSTRAINT "{primary["conname"]}" {primary["def"]}'
        )
        for index in indexes:
            await conn.execute(index["indexdef"])
    await conn.execute("SET session_replication_role = DEFAULT")


async def _statuses_and_feed(
    db: Database, ids: list[int], statuses: int, rng: random.Random
) -> None:
    if db.is_sqlite:
        rows = list(_statuses(ids, statuses, rng))
        await _insert(db, Status, rows)
        async with db.write() as session:
            await session.execute(text(FEED_FROM_STATUSES))
        async with db.engine.connect() as conn:
            await conn.execute(text("ANALYZE"))
        return
    conn = await asyncpg.connect(_postgres_dsn(db.url))
    try:
        await conn.execute("SET synchronous_commit = off")
        await _copy(conn, "statuses", _statuses(ids, statuses, rng))
        await _feed_on_postgres(conn)
        for table in ("accounts", "users", "follows", "statuses", "feed_entries"):
            await conn.execute(f"VACUUM (ANALYZE) {table}")
        # Write the ~4 GB of dirty pages out now, not while the timings run.
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


async def seed(
    db: Database,
    public_url: str,
    *,
    accounts: int,
    statuses: int,
    follows_per_account: int,
    token_accounts: int,
    rng: random.Random,
) -> Seeded:
    started = time.perf_counter()
    account_rows, user_rows = _accounts(public_url, accounts)
    await _insert(db, Account, account_rows)
    await _insert(db, User, user_rows)
    ids = [row["id"] for row in account_rows]
    follow_rows = _follows(ids, follows_per_account, rng)
    await _insert(db, Follow, follow_rows)
    await _statuses_and_feed(db, ids, statuses, rng)

    tokens = {}
    token_rows = []
    for account_id in rng.sample(ids, token_accounts):
        token = new_token()
        tokens[account_id] = token
        token_rows.append(
            {
                "id": new_id(),
                "token_hash": digest(token),
                "account_id": account_id,
                "scopes": "read write follow",
            }
        )
    await _insert(db, AccessToken, token_rows)
    async with db.read() as session:
        feed_entries = (await session.execute(text("SELECT count(*) FROM feed_entries"))).scalar()
    return Seeded(ids, tokens, statuses, int(feed_entries or 0), time.perf_counter() - started)
