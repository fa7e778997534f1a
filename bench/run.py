"""`make bench`: run every benchmark on SQLite and PostgreSQL and write bench/RESULTS.md."""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench.seed import Seeded, seed
from bench.timeline import Latency, creation_rate, read_latency
from models.db import Database
from models.migrate import upgrade
from tests.kit import RunningNode, postgres_available, postgres_database

RESULTS = Path(__file__).parent / "RESULTS.md"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}), "
        f"{mem:.0f} GiB, Python {platform.python_version()}"
    )


def timeline_bench(backend: str, url: str, work: Path, args: argparse.Namespace) -> list[str]:
    upgrade(url)
    node = RunningNode(data_dir=work, database_url=url)
    rng = random.Random(42)

    async def seed_it() -> Seeded:
        db = Database(url)
        try:
            return await seed(
                db,
                node.url,
                accounts=args.accounts,
                statuses=args.statuses,
                follows_per_account=args.follows,
                token_accounts=200,
                rng=rng,
            )
        finally:
            await db.dispose()

    seeded = asyncio.run(seed_it())
    node.start()
    try:
        tokens = list(seeded.tokens.values())
        paths = [("/api/v1/timelines/home", t) for t in tokens]
        home = asyncio.run(read_latency(node.url, paths, rounds=args.rounds))
        deep = asyncio.run(
            read_latency(
                node.url,
                [("/api/v1/timelines/home?max_id=" + str(1 << 62), t) for t in tokens],
                rounds=1,
            )
        )
        floor = asyncio.run(
            read_latency(node.url, [("/livez", t) for t in tokens], rounds=args.rounds)
        )
        rate = asyncio.run(creation_rate(node.url, tokens[:50], args.posts, args.concurrency))
    finally:
        node.stop()

    def row(name: str, lat: Latency) -> str:
        return f"| {backend} | {name} | {lat.p50_ms:.2f} | {lat.p99_ms:.2f} | {lat.samples} |"

    return [
        f"**{backend}**: seeded {args.accounts:,} accounts, {args.statuses:,} statuses, "
        f"{args.follows} follows each, ~{seeded.feed_entries:,} feed entries "
        f"in {seeded.seconds:.0f} s.",
        "",
        "| backend | request | p50 ms | p99 ms | samples |",
        "|---|---|---|---|---|",
        row("GET /api/v1/timelines/home (20 statuses)", home),
        row("GET /api/v1/timelines/home?max_id=… (cursor)", deep),
        row("floor: GET /livez (no database)", floor),
        "",
        f"Status creation through POST /api/v1/statuses, {args.concurrency} concurrent "
        f"clients, authors with ~{args.follows} followers each: **{rate:,.0f} statuses/s**.",
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description="Flurfunk benchmarks")
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--statuses", type=int, default=100_000)
    parser.add_argument("--follows", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    sections = []
    for backend in args.backends.split(","):
        work = Path(tempfile.mkdtemp(prefix=f"flurfunk-bench-{backend}-"))
        try:
            if backend == "postgres":
                available, reason = postgres_available()
                if not available:
                    sections.append(f"**postgres**: skipped ({reason}).\n")
                    continue
                with postgres_database() as url:
                    sections += timeline_bench(backend, url, work, args)
            else:
                url = f"sqlite+aiosqlite:///{work / 'flurfunk.db'}"
                sections += timeline_bench(backend, url, work, args)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    text = "\n".join(
        [
            "# Benchmark results",
            "",
            f"Written by `make bench` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {commit}.",
            f"Machine: {machine()}.",
            "",
            "Latencies are measured by a sequential client over one keep-alive HTTP connection",
            "on loopback, so they include HTTP parsing, authentication and serialisation; the",
            "floor is a bare endpoint on the same server in the same run.",
            "",
            "## Home timeline and status creation",
            "",
            *sections,
        ]
    )
    args.output.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
