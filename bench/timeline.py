"""Home-timeline read latency and status creation rate, measured through the HTTP API.

PostgreSQL is seeded at the issue's scale (10,000 accounts, 1,000,000 statuses, 30 follows
each: ~31 M feed entries); SQLite, the small department's database, at a tenth of it by
default to keep the run short. Each figure stands next to
its floor measured in the same run on the same server: a bare endpoint (`/livez`, no
database) for latency. On PostgreSQL the section also records the plan of the feed query.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect

from bench.seed import STATUS_SPAN_MS, Seeded, seed
from models.db import Database
from models.ids import id_for_time
from models.migrate import upgrade
from tests.kit import RunningNode
from web.api.timelines import home_page_statement

Measure = Callable[[str, str, Path], list[str]]

NOTE = [
    "Latencies are measured by a sequential client over one keep-alive HTTP connection on",
    "loopback against one `flurfunk serve` process, so they include HTTP parsing, the",
    "middleware, authentication (one token look-up in the database per request, no cache)",
    "and serialisation; 200 seeded users with tokens take turns, none has content filters.",
    "The floor is a bare endpoint on the same server in the same run. *Deep* pages start at a",
    "cursor in the middle of the 100 days of history. Seeding writes rows directly: statuses",
    "with COPY, the feed derived on the server from statuses and follows (what fan-out on",
    "write produces), then VACUUM ANALYZE. PostgreSQL holds the issue's scale; SQLite, the",
    "small department's database, a tenth of it by default, to keep the run short",
    "(`--sqlite-accounts`, `--sqlite-statuses`).",
    "",
    "What a page costs: one pooled session, without a transaction on PostgreSQL, and four",
    "statements: the token (which also tells whether the account has content filters, so",
    "that a viewer without any costs nothing more), the feed range joined to its statuses",
    "(a statement built once, with bind parameters), one UNION ALL for the viewer's marks",
    "and what the statuses carry (media, mentions, tags, polls), and the accounts shown —",
    "Core rows, no ORM objects but the caller's. *Server CPU* is the serve process's user",
    "and system time per request (/proc).",
    "",
    "What limits it: that CPU, Python on one event loop — per page the pool checkout's",
    "pre-ping (BEGIN; SELECT; ROLLBACK, ~0.35 ms), SQLAlchemy and asyncpg per statement",
    "(~0.3 ms each), presenting 20 statuses (~0.4 ms), Starlette's router and middleware.",
    "PostgreSQL reads a page in ~0.2 ms (the plan below). On two cores shared by the client,",
    "PostgreSQL and whatever else runs, latency is a multiple of the CPU time; see the load",
    "average above.",
]


@dataclass
class Latency:
    p50_ms: float
    p99_ms: float
    samples: int
    cpu_ms: float  # the server process's CPU time per request


def latency(samples: list[float], cpu_seconds: float) -> Latency:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return Latency(
        statistics.median(ordered) * 1000,
        p99 * 1000,
        len(ordered),
        cpu_seconds / len(ordered) * 1000,
    )


def process_cpu(pid: int) -> float:
    """User plus system CPU seconds a process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def read_latency(
    base: str, paths: list[tuple[str, str]], rounds: int, server_pid: int
) -> Latency:
    """Sequential GETs over one keep-alive connection: (path, token) pairs, `rounds` times."""
    samples = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for path, token in paths[:20]:  # warm-up: connection, caches, statement cache
            await client.get(path, headers={"Authorization": f"Bearer {token}"})
        cpu_before = process_cpu(server_pid)
        for _ in range(rounds):
            for path, token in paths:
                started = time.perf_counter()
                response = await client.get(path, headers={"Authorization": f"Bearer {token}"})
                samples.append(time.perf_counter() - started)
                response.raise_for_status()
        cpu = process_cpu(server_pid) - cpu_before
    return latency(samples, cpu)


async def creation_rate(base: str, tokens: list[str], total: int, concurrency: int) -> float:
    """Statuses created per second by `concurrency` clients posting `total` statuses."""
    counter = iter(range(total))

    async def poster(client: httpx.AsyncClient, token: str) -> None:
        for n in counter:
            response = await client.post(
                "/api/v1/statuses",
                headers={"Authorization": f"Bearer {token}"},
                data={"status": f"Benchmark post {n} #bench", "visibility": "public"},
            )
            response.raise_for_status()

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(poster(client, tokens[i % len(tokens)]) for i in range(concurrency)))
        return total / (time.perf_counter() - started)


async def feed_plan(url: str, viewer_id: int, max_id: int) -> str:
    """EXPLAIN ANALYZE of the home page statement the API runs, summarised: how the feed is
    read and how long PostgreSQL takes for a page."""
    statement = home_page_statement(True, False, False)
    compiled = statement.compile(dialect=asyncpg_dialect.dialect())  # type: ignore[no-untyped-call]
    values = {
        "viewer": viewer_id,
        "now": datetime.now(UTC).replace(tzinfo=None),
        "max_id": max_id,
        "limit": 20,
        "offset": 0,
    }
    args = [values[name] for name in compiled.positiontup or ()]
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        await conn.fetchval("EXPLAIN (ANALYZE, FORMAT JSON) " + compiled.string, *args)
        found = await conn.fetchval("EXPLAIN (ANALYZE, FORMAT JSON) " + compiled.string, *args)
    finally:
        await conn.close()
    plan = json.loads(found)[0]
    feed = _node(plan["Plan"], "feed_entries")
    if feed is None:
        return "feed_entries not found in the plan"
    return (
        f"{feed['Node Type']} {feed.get('Scan Direction', '')} using "
        f"{feed.get('Index Name', '-')} on feed_entries "
        f"(heap fetches {feed.get('Heap Fetches', '-')}); {plan['Plan'].get('Actual Rows')} "
        f"rows in {plan['Execution Time']:.2f} ms execution, {plan['Planning Time']:.2f} ms "
        "planning (warm)"
    )


def _node(plan: dict[str, Any], relation: str) -> dict[str, Any] | None:
    if plan.get("Relation Name") == relation:
        return plan
    for child in plan.get("Plans", []):
        found = _node(child, relation)
        if found is not None:
            return found
    return None


def measure(backend: str, url: str, work: Path, args: argparse.Namespace) -> list[str]:
    sqlite = backend == "sqlite"
    accounts = args.sqlite_accounts if sqlite else args.accounts
    statuses = args.sqlite_statuses if sqlite else args.statuses
    upgrade(url)
    node = RunningNode(data_dir=work, database_url=url)

    async def seed_it() -> Seeded:
        db = Database(url)
        try:
            return await seed(
                db,
                node.url,
                accounts=accounts,
                statuses=statuses,
                follows_per_account=args.follows,
                token_accounts=200,
                rng=random.Random(42),
            )
        finally:
            await db.dispose()

    seeded = asyncio.run(seed_it())
    # Half-way through the history: a page there reads the middle of each feed's range.
    middle = id_for_time(int(time.time() * 1000) - STATUS_SPAN_MS // 2)
    plan = None if sqlite else asyncio.run(feed_plan(url, next(iter(seeded.tokens)), middle))
    node.start()
    assert node.process is not None
    pid = node.process.pid  # `serve` with one worker answers in this process
    try:
        tokens = list(seeded.tokens.values())
        home_paths = [("/api/v1/timelines/home", t) for t in tokens]
        home = asyncio.run(read_latency(node.url, home_paths, args.rounds, pid))
        deep_paths = [(f"/api/v1/timelines/home?max_id={middle}", t) for t in tokens]
        deep = asyncio.run(read_latency(node.url, deep_paths, 1, pid))
        floor_paths = [("/livez", t) for t in tokens]
        floor = asyncio.run(read_latency(node.url, floor_paths, args.rounds, pid))
        rate = asyncio.run(creation_rate(node.url, tokens[:50], args.posts, args.concurrency))
    finally:
        node.stop()

    def row(name: str, lat: Latency) -> str:
        return (
            f"| {backend} | {name} | {lat.p50_ms:.2f} | {lat.p99_ms:.2f} | {lat.cpu_ms:.2f} "
            f"| {lat.samples} |"
        )

    lines = [
        f"**{backend}**: seeded {accounts:,} accounts, {statuses:,} statuses, "
        f"{args.follows} follows each, {seeded.feed_entries:,} feed entries "
        f"in {seeded.seconds:.0f} s.",
        "",
        "| backend | request | p50 ms | p99 ms | server CPU ms/request | samples |",
        "|---|---|---|---|---|---|",
        row("GET /api/v1/timelines/home (20 statuses)", home),
        row("GET /api/v1/timelines/home?max_id=… (deep)", deep),
        row("floor: GET /livez (no database)", floor),
        "",
    ]
    if plan is not None:
        lines += [f"Feed query plan (deep page): {plan}.", ""]
    lines += [
        f"Status creation through POST /api/v1/statuses, {args.concurrency} concurrent "
        f"clients, authors with ~{args.follows} followers each: **{rate:,.0f} statuses/s**.",
        "",
    ]
    return lines


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("home timeline")
    group.add_argument("--accounts", type=int, default=10_000, help="PostgreSQL")
    group.add_argument("--statuses", type=int, default=1_000_000, help="PostgreSQL")
    group.add_argument("--sqlite-accounts", type=int, default=1_000)
    group.add_argument("--sqlite-statuses", type=int, default=100_000)
    group.add_argument("--follows", type=int, default=30)
    group.add_argument("--rounds", type=int, default=5)
    group.add_argument("--posts", type=int, default=1000)
    group.add_argument("--concurrency", type=int, default=8)


def section(
    args: argparse.Namespace, per_backend: Callable[[argparse.Namespace, Measure], list[str]]
) -> list[str]:
    return per_backend(args, lambda backend, url, work: measure(backend, url, work, args))
