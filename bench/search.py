"""Full-text search over 1,000,000 statuses on PostgreSQL, next to a plain indexed lookup.

`python -m bench.run --only search` (or `python -m bench.search`) creates a throw-away
PostgreSQL database, migrates it, bulk-loads accounts and statuses (COPY; words drawn from a
Zipf-distributed vocabulary, half of the statuses German, half English), fills the search index
on the server with the same `to_tsvector` per language that the write path uses, builds its GIN
index after the load, VACUUM ANALYZE, and then times, in one run on one connection pool:

- the node's status search (`web.api.search_statuses.find_statuses`: index match plus the
  visibility, block/mute and allowlist conditions, newest first, 20 per page) for rare,
  medium, common and two-word queries;
- the floor: a plain indexed lookup (an author's newest 20 statuses by their index).

It also measures what indexing adds to the write path: a status INSERT committed on its own,
with and without the index hook, on SQLite and PostgreSQL. Prints Markdown rows.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import event, select

from bench.seed import _accounts, _copy, _insert, _postgres_dsn
from models import search_index
from models.db import Database
from models.ids import new_id
from models.migrate import upgrade
from models.settings import Settings
from models.tables import Account, Status, User
from tests.kit import postgres_database
from web.api.base import Page
from web.api.search_statuses import StatusSearch, find_statuses

SYLLABLES = [a + b for a in "kmnstbdfgp" for b in "aeiou"]
REAL = ["Bericht", "Berichte", "report", "reports", "Kantine", "meeting", "Quartal", "budget"]
SPAN_MS = 365 * 86_400_000
INDEX = search_index.TABLE


def vocabulary(size: int, rng: random.Random) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def _statuses(
    ids: list[int], count: int, vocab: list[str], rng: random.Random
) -> Iterator[dict[str, Any]]:
    weights = [1 / (rank + 1) for rank in range(len(vocab))]
    cumulative = list(_accumulate(weights))
    now_ms = int(time.time() * 1000)
    for n in range(count):
        at_ms = now_ms - SPAN_MS + (SPAN_MS * n) // count
        status_id = new_id(at_ms)
        words = rng.choices(vocab, cum_weights=cumulative, k=rng.randint(6, 16))
        if n % 20 in (3, 4):  # public posts, in both languages
            words.append(REAL[n // 20 % len(REAL)])
        body = " ".join(words)
        yield {
            "id": status_id,
            "created_at": datetime.fromtimestamp(at_ms / 1000, UTC).replace(tzinfo=None),
            "account_id": rng.choice(ids),
            "local": True,
            "text": body,
            "content_type": "text/plain",
            "content": f"<p>{body}</p>",
            "spoiler_text": "",
            "sensitive": False,
            "visibility": "private" if n % 10 == 0 else "public",
            "language": "de" if n % 2 else "en",
            "thread_id": status_id,
            "replies_count": 0,
            "reblogs_count": 0,
            "favourites_count": 0,
        }


def _accumulate(weights: list[float]) -> Iterator[float]:
    total = 0.0
    for weight in weights:
        total += weight
        yield total


async def load(url: str, statuses: int, rng: random.Random) -> tuple[list[int], list[str]]:
    db = Database(url)
    accounts, users = _accounts("http://bench.example", 1000)
    await _insert(db, Account, accounts)
    await _insert(db, User, users)
    await db.dispose()
    ids = [a["id"] for a in accounts]
    vocab = vocabulary(20_000, rng)
    conn = await asyncpg.connect(_postgres_dsn(url))
    try:
        await conn.execute("SET synchronous_commit = off")
        await conn.execute("SET maintenance_work_mem = '512MB'")
        await conn.execute(f"DROP INDEX ix_{INDEX}_document")
        await _copy(conn, "statuses", _statuses(ids, statuses, vocab, rng))
        # The documents the write path makes (plain text, stemmed by language), built on
        # the server so that a million rows never pass through Python twice.
        await conn.execute(
            f"INSERT INTO {INDEX} (status_id, document) SELECT id, to_tsvector(CASE language "
            "WHEN 'de' THEN 'german'::regconfig ELSE 'english'::regconfig END, text) "
            "FROM statuses"
        )
        await conn.execute(search_index.POSTGRES_SCHEMA[1])
        for table in ("accounts", "statuses", INDEX):
            await conn.execute(f"VACUUM (ANALYZE) {table}")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()
    return ids, vocab


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered) * 1000, p99 * 1000


async def timed(rounds: int, run: Callable[[int], Awaitable[int]]) -> tuple[float, float, float]:
    """(p50 ms, p99 ms, mean results) of `rounds` sequential calls, after 10 warm-up calls."""
    for n in range(10):
        await run(n)
    samples, results = [], []
    for n in range(rounds):
        started = time.perf_counter()
        results.append(await run(n))
        samples.append(time.perf_counter() - started)
    p50, p99 = percentiles(samples)
    return p50, p99, statistics.mean(results)


async def measure(url: str, ids: list[int], vocab: list[str], rounds: int) -> list[str]:
    db = Database(url)
    settings = Settings(database_url=url, public_url="http://bench.example")
    rng = random.Random(7)
    classes = {
        "rare word (rank 5,000-20,000)": lambda: rng.choice(vocab[5000:]),
        "medium word (rank 100-1,000)": lambda: rng.choice(vocab[100:1000]),
        "common word (rank 1-10)": lambda: rng.choice(vocab[:10]),
        "two words (rank 10-500)": lambda: " ".join(rng.sample(vocab[10:500], 2)),
        "stemmed German (Berichte)": lambda: "Berichte",
    }
    rows = []
    async with db.read() as session:
        for name, query in classes.items():

            async def search(n: int, query: Callable[[], str] = query) -> int:
                wanted = StatusSearch(
                    query(), ids[n % len(ids)], settings, Page(None, None, None, 20)
                )
                return len(await find_statuses(session, wanted, type_asked=True, min_words=3))

            p50, p99, found = await timed(rounds, search)
            rows.append(f"| search: {name} | {p50:.1f} | {p99:.1f} | {found:.1f} |")

        async def lookup(n: int) -> int:
            statement = (
                select(Status)
                .where(Status.account_id == ids[n % len(ids)])
                .order_by(Status.id.desc())
                .limit(20)
            )
            return len((await session.execute(statement)).scalars().all())

        p50, p99, found = await timed(rounds, lookup)
        floor = "floor: an author's newest 20 (indexed lookup)"
        rows.append(f"| {floor} | {p50:.1f} | {p99:.1f} | {found:.1f} |")
    await db.dispose()
    return rows


async def write_cost(url: str, statuses: int) -> tuple[float, float]:
    """Mean ms per status INSERT committed alone: (without the index hook, with it)."""
    db = Database(url)
    async with db.write() as session:
        account = Account(username="writer" + os.urandom(3).hex(), domain=None, display_name="W")
        session.add(account)
    words = "Der Bericht zum Quartal ist da, the quarterly report is out #zahlen"

    async def one(n: int) -> None:
        async with db.write() as session:
            session.add(
                Status(
                    account_id=account.id,
                    text=f"{words} {n}",
                    content=f"<p>{words} {n}</p>",
                    language="de",
                    visibility="public",
                )
            )

    hook = search_index._index_flushed_rows
    results = []
    for indexed in (False, True, False, True):
        if not indexed:
            event.remove(search_index.Session, "after_flush", hook)
        started = time.perf_counter()
        for n in range(statuses):
            await one(n)
        results.append((indexed, (time.perf_counter() - started) / statuses * 1000))
        if not indexed:
            event.listen(search_index.Session, "after_flush", hook)
    await db.dispose()
    plain = statistics.mean(ms for indexed, ms in results if not indexed)
    with_index = statistics.mean(ms for indexed, ms in results if indexed)
    return plain, with_index


async def explain(url: str, ids: list[int], words: str) -> list[str]:
    """The plan of the node's own search statement, as find_statuses sends it."""
    db = Database(url)
    settings = Settings(database_url=url, public_url="http://bench.example")
    sent: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    async with db.read() as session:
        wanted = StatusSearch(words, ids[0], settings, Page(None, None, None, 20))
        await find_statuses(session, wanted, type_asked=True, min_words=3)
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)
        statement, parameters = next(
            (s, p) for s, p in reversed(sent) if s.lstrip().startswith("SELECT statuses.")
        )
        # The planner settings the search chose hold only around its statement: again here.
        chosen = next((s, p) for s, p in sent if s.startswith("SELECT current_setting"))
        conn = await session.connection()
        await conn.exec_driver_sql(chosen[0], tuple(chosen[1]))
        plan = await conn.exec_driver_sql(
            "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, tuple(parameters)
        )
        lines = [str(row[0]) for row in plan]
    await db.dispose()
    return lines


NOTE = [
    "PostgreSQL: 1,000,000 statuses by 1,000 accounts over a year, 6-16 words each drawn from",
    "a Zipf-distributed vocabulary of 20,000 made-up words (plus a real German or English word",
    "in every tenth), half German and half English, a tenth followers-only; bulk-loaded with",
    "COPY, the search index filled on the server with the same `to_tsvector` per language as",
    "the write path, its GIN index built after the load, VACUUM ANALYZE. Timed in one process",
    "on one pooled connection, sequentially: the node's status search",
    "(`web.api.search_statuses.find_statuses`: the index match plus the visibility,",
    "block/mute and allowlist conditions, newest first, 20 per page, SQLAlchemy included) for",
    "a different viewer and word each time, next to the floor, a plain indexed lookup (an",
    "author's newest 20 statuses) in the same run. *Results* is the mean page size.",
    "",
    "Write path: a status INSERT committed in a transaction of its own through the node's",
    "write session, without and with the index hook (alternating runs), on each database.",
    "On SQLite the index costs an FTS5 segment write per transaction; on PostgreSQL a",
    "`to_tsvector` and a GIN insertion (GIN's fast-update list keeps that cheap).",
    "",
    "What limits it: the plan is chosen from the planner's estimate of the matches (an",
    "EXPLAIN of the index condition alone, ~0.3 ms, from the lexeme frequencies ANALYZE",
    "keeps). Up to 5,000 estimated (about 1,700 real: the estimate counts a word once per",
    "stemming), the statement collects every match from the GIN index into an array and reads",
    "the page newest first from the primary key: one heap page per match, ~1-3 us each when",
    "cached. Above it, the statuses are walked newest first and each checked: ~20 x total /",
    "visible matches rows of recent pages, ~0.3 us each. Both stay in single-digit",
    "milliseconds; what remains is round trips (estimate, settings, page, restore) and",
    "building the 20 statuses in SQLAlchemy. Not measured here and slower: a walked word",
    "whose matches are mostly old or hidden from the viewer (followers-only posts of people",
    "they do not follow) reads rows in proportion, up to the whole index (~0.3 s at a",
    "million); a word that became common since status_search was last analyzed (autovacuum:",
    "after a tenth of its rows changed) is estimated as rare and collected, ~1-3 us per match",
    "(50,000 matches: ~100 ms); and a cold cache, where each collected match is a disk read.",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("search")
    group.add_argument("--search-statuses", type=int, default=1_000_000)
    group.add_argument("--search-rounds", type=int, default=300)
    group.add_argument("--search-writes", type=int, default=300)


def section(args: argparse.Namespace) -> list[str]:
    rng = random.Random(1)
    with postgres_database() as url:
        upgrade(url)
        started = time.monotonic()
        ids, vocab = asyncio.run(load(url, args.search_statuses, rng))
        loaded = time.monotonic() - started
        rows = asyncio.run(measure(url, ids, vocab, args.search_rounds))
        plans = {
            "a medium word (rank 800): the matches collected from the GIN index": asyncio.run(
                explain(url, ids, vocab[800])
            ),
            "a medium word (rank 300): newest first, checking each": asyncio.run(
                explain(url, ids, vocab[300])
            ),
            "two words (rank 50 and 200): the matches collected from the GIN index": (
                asyncio.run(explain(url, ids, f"{vocab[50]} {vocab[200]}"))
            ),
        }
        pg_write = asyncio.run(write_cost(url, args.search_writes))
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_url = f"sqlite+aiosqlite:///{Path(tmp) / 'w.db'}"
        upgrade(sqlite_url)
        sqlite_write = asyncio.run(write_cost(sqlite_url, args.search_writes))
    lines = [
        f"{args.search_statuses:,} statuses loaded and indexed in {loaded:.0f} s; "
        f"{args.search_rounds} queries per row; load average after: {os.getloadavg()[0]:.1f}.",
        "",
        "| postgres, 1 viewer at a time | p50 ms | p99 ms | results |",
        "|---|---|---|---|",
        *rows,
        "",
        "| backend | status INSERT + commit, no index (ms) | with index (ms) | added |",
        "|---|---|---|---|",
    ]
    for name, (plain, indexed) in (("postgres", pg_write), ("sqlite", sqlite_write)):
        lines.append(f"| {name} | {plain:.2f} | {indexed:.2f} | {indexed - plain:+.2f} ms |")
    for what, plan in plans.items():
        lines += ["", f"The plan of the node's search statement for {what} (top):", ""]
        lines += ["    " + (line if len(line) <= 160 else line[:160] + " …") for line in plan[:12]]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f}", flush=True)
    print("\n".join(section(args)))


if __name__ == "__main__":
    main()
