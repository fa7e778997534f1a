"""`make bench`: run every benchmark on SQLite and PostgreSQL and write bench/RESULTS.md.

Parts: inbox ingest, delivery, home timeline, status creation (`posting`), fan-out, idle
memory, cross-node latency, the web home page, full-text search, keyword watch, the retention
sweep, announcements, media upload, attachment serving, group fan-out, and on demand only
(`make bench-company`) a simulated company day (`--only ingest,delivery,timeline,posting,
fanout,memory,latency,webpage,search,watch,retention,announcements,media,serving,groups,
company` picks some; the others' sections in RESULTS.md are kept). Every benchmark stops by
itself and talks only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench import (
    announcements,
    company,
    fanout,
    group_fanout,
    latency,
    media_serving,
    media_upload,
    posting,
    retention,
    search,
    timeline,
    watch,
    web_page,
)
from bench.delivery import DeliveryResult, Sink, delivery_bench
from bench.delivery import report as delivery_report
from bench.fakeremote import FakeRemote
from bench.ingest import Floor, IngestResult, LocalRedis, ingest_bench
from bench.ingest import report as ingest_report
from bench.memory import memory_bench
from bench.memory import report as memory_report
from tests.kit import postgres_available, postgres_database

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


SECTIONS = {
    "ingest": "Inbox ingest",
    "delivery": "Delivery",
    "timeline": "Home timeline and status creation",
    "posting": "Status creation and same-node real time",
    "fanout": "Fan-out to remote followers",
    "memory": "Idle memory",
    "latency": "Cross-node latency",
    "webpage": "The home page in the browser",
    "search": "Full-text search",
    "watch": "Keyword watch",
    "retention": "Retention sweep",
    "announcements": "Announcements to many nodes",
    "media": "Media upload",
    "serving": "Attachment serving",
    "groups": "Group fan-out",
    "company": "A simulated company day",
}
# Not part of a plain `make bench`: ten nodes for ten minutes (`make bench-company`).
ON_DEMAND = {"company"}
NOTES = {
    "fanout": fanout.NOTE,
    "company": company.NOTE,
    "latency": latency.NOTE,
    "ingest": [
        "One `flurfunk serve` process receives signed Create activities (cavage rsa-sha256,",
        "~1.5 KB, distinct ids, signed before the clock starts) from raw HTTP/1.1 senders over",
        "keep-alive connections on loopback; the signer's key is fetched once from a fake",
        "remote node through CONNECT_TO. The sender is followed by 5 local accounts, so every",
        "Create is kept, as staff experience it: *accepted* counts 202 answers (each stored as",
        "an inbox row before its answer), *visible* counts statuses committed with their feed",
        "rows (from then on the home timeline and the account's statuses show them; one",
        "follower's home timeline is asked at the end), from the first request until the last",
        "is visible; *backlog* is how long that took after the last answer. As `make run`",
        "starts it, the serve process also processes what it stores; with REDIS_URL set",
        "(scale-out), processing belongs to `flurfunk worker` processes and the serve process",
        "only receives. The floor is a bare Starlette endpoint on uvicorn (a process of its",
        "own) that checks the digest, verifies the signature with a cached key and parses the",
        "JSON, fed the same requests.",
        "",
        "What limits it: the CPU of the one event loop, shared by receiving and processing.",
        "Receiving costs the floor's work plus the middleware stack, origin checks and a share",
        "of a group-committed INSERT. Processing claims up to 50 rows and runs up to 16 in one",
        "transaction (a savepoint each); a followed Create then costs ~12 statements and ~8 ms",
        "of CPU (statements counted with an engine listener, CPU with process_time, 400 Creates",
        "in-process): the duplicate check, one look-up of the mentioned accounts, the status, its",
        "search row, its tag links, the author's counter and the feed rows, in two savepoints.",
        "What does not change within a batch is looked up once per transaction (the author, its",
        "local followers, who blocks or mutes it, bell subscribers, lists that hold it, tags by",
        "name), and the stream events are built from what was written, not read back after the",
        "commit (outbox/events.py). Most of the rest is the thread hop of every aiosqlite",
        "statement and the ORM insert of the status. PostgreSQL's server and the senders",
        "compete for the same two cores; runs vary widely when other work shares the machine",
        "(see the load column).",
    ],
    "delivery": [
        "One DeliveryWorker (in the benchmark process) delivers pending rows — one Create,",
        "spread over 12 inboxes on 3 sink hosts routed by CONNECT_TO to a raw asyncio sink",
        "(a process of its own) that answers 202 at once — from the worker's start until the",
        "last row is `done`. The floor is the same number of POSTs signed with the same",
        "cached key through the same FederationClient, without the database; the plain httpx",
        "column is the same signed POSTs through one httpx.AsyncClient with its own pool.",
        "",
        "What limits it (profiled when this benchmark was written): RSA-2048 signing, ~250 µs",
        "per POST, is most of the floor; the worker adds ~50 µs per delivery for claiming rows",
        "and recording outcomes in bulk. A plain httpx client spends more on its cookie jar,",
        "header merging and connection pool than on signing.",
    ],
    "memory": [
        "Each process is installed as an operator installs it (a fresh virtual environment",
        "with `pip install .`, no test extras), started, asked a few requests (the worker:",
        "left to finish its start-up), then left idle for 5 s before its memory is read from",
        "/proc/<pid>/smaps_rollup. RSS is what the aim (<= 80 MB) is about; USS counts the",
        "private pages, what one more process really costs. The floor is a process of the",
        "same environment that imports the whole stack the node is built on and does nothing.",
        "",
        "What limits it: the libraries themselves. Of the floor, SQLAlchemy with its asyncio",
        "layer is ~24 MB, the interpreter with asyncio and uvloop ~21 MB, uvicorn ~6 MB and",
        "cryptography ~6 MB; the node's own modules (models, routes, serialisers) add ~14 MB",
        "of code objects. A process imports only what its configuration uses: pyld (with",
        "requests and lxml, ~11 MB) with the first document whose JSON-LD context needs it,",
        "Alembic only to migrate (in a child process), Jinja with the first web page,",
        "markdown-it with the first Markdown post.",
    ],
    "timeline": timeline.NOTE,
    "posting": posting.NOTE,
    "search": search.NOTE,
    "watch": watch.NOTE,
    "webpage": web_page.NOTE,
    "retention": retention.NOTE,
    "media": media_upload.NOTE,
    "announcements": announcements.NOTE,
    "serving": media_serving.NOTE,
    "groups": group_fanout.NOTE,
}


def per_backend(
    args: argparse.Namespace, measure: Callable[[str, str, Path], list[str]]
) -> list[str]:
    """Run `measure(backend, database_url, work_dir)` on each backend in a fresh database."""
    lines: list[str] = []
    for backend in args.backends.split(","):
        work = Path(tempfile.mkdtemp(prefix=f"flurfunk-bench-{backend}-"))
        try:
            if backend == "postgres":
                available, reason = postgres_available()
                if not available:
                    lines.append(f"**postgres**: skipped ({reason}).\n")
                    continue
                with postgres_database() as url:
                    lines += measure(backend, url, work)
            else:
                lines += measure(backend, f"sqlite+aiosqlite:///{work / 'flurfunk.db'}", work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return lines


def ingest_section(args: argparse.Namespace) -> list[str]:
    remote = FakeRemote.generate()
    results: list[IngestResult] = []
    with contextlib.ExitStack() as stack:
        remote_port = stack.enter_context(remote.serving())
        floor = Floor(remote)
        stack.callback(floor.stop)
        redis = LocalRedis.start()
        if redis is not None:
            stack.callback(redis.stop)

        def measure(backend: str, url: str, work: Path) -> list[str]:
            results.append(
                ingest_bench(
                    backend,
                    url,
                    work,
                    remote,
                    remote_port,
                    floor,
                    redis,
                    activities=args.activities,
                    connections=args.connections,
                )
            )
            return []

        skipped = per_backend(args, measure)
        if redis is None:
            skipped.append("scale-out rows: skipped (no redis-server on this machine)")
    return [
        f"{args.activities:,} activities per run, {args.connections} concurrent senders.",
        "",
        *ingest_report(results, skipped),
        "",
    ]


def delivery_section(args: argparse.Namespace) -> list[str]:
    results: list[DeliveryResult] = []
    sink = Sink()
    try:

        def measure(backend: str, url: str, work: Path) -> list[str]:
            results.append(
                delivery_bench(
                    backend, url, work, sink, count=args.deliveries, plain_count=args.plain_posts
                )
            )
            return []

        skipped = per_backend(args, measure)
    finally:
        sink.stop()
    return [
        f"{args.deliveries:,} deliveries per backend; worker batch 200, 64 POSTs in flight, "
        "16 connections per host.",
        "",
        *delivery_report(results, skipped),
        "",
    ]


def memory_section(args: argparse.Namespace) -> list[str]:
    results, skipped = memory_bench()
    return [*memory_report(results, skipped), ""]


def merged(previous: str, fresh: dict[str, list[str]]) -> str:
    """RESULTS.md with the sections just measured replaced and the others kept as they were."""
    kept: dict[str, list[str]] = {}
    current: str | None = None
    titles = {title: key for key, title in SECTIONS.items()}
    for line in previous.splitlines():
        if line.startswith("## "):
            current = titles.get(line[3:].strip())
            if current is not None:
                kept[current] = []
            continue
        if current is not None:
            kept[current].append(line)
    out = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`python -m bench.run`; `--only ingest,delivery,timeline`",
        "runs a part and keeps the other sections). Every figure stands next to its floor,",
        "measured in the same run on the same machine.",
        "",
    ]
    for key, title in SECTIONS.items():
        body = fresh.get(key, kept.get(key))
        if body is None:
            continue
        out += [f"## {title}", "", *_strip_blank_edges(body), ""]
    return "\n".join(out)


def _strip_blank_edges(lines: list[str]) -> list[str]:
    while lines and not lines[0].strip():
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def _watch_section(args: argparse.Namespace) -> list[str]:
    return watch.section(args, per_backend)


def main() -> None:
    parser = argparse.ArgumentParser(description="Flurfunk benchmarks")
    parser.add_argument(
        "--only",
        default=",".join(k for k in SECTIONS if k not in ON_DEMAND),
        help="comma-separated: " + ", ".join(SECTIONS),
    )
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--output", type=Path, default=RESULTS)
    timeline.add_arguments(parser)
    search.add_arguments(parser)
    watch.add_arguments(parser)
    announcements.add_arguments(parser)
    media_serving.add_arguments(parser)
    ingest = parser.add_argument_group("inbox ingest")
    ingest.add_argument("--activities", type=int, default=10_000)
    ingest.add_argument("--connections", type=int, default=64)
    fanout.add_arguments(parser)
    group_fanout.add_arguments(parser)
    posting.add_arguments(parser)
    latency.add_arguments(parser)
    retention.add_arguments(parser)
    media_upload.add_arguments(parser)
    company.add_arguments(parser)
    delivery = parser.add_argument_group("delivery")
    delivery.add_argument("--deliveries", type=int, default=10_000)
    delivery.add_argument("--plain-posts", type=int, default=1_000)
    args = parser.parse_args()

    wanted = [part.strip() for part in args.only.split(",") if part.strip()]
    unknown = set(wanted) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown part(s) {', '.join(sorted(unknown))}; known: {', '.join(SECTIONS)}")
    run = {
        "ingest": ingest_section,
        "delivery": delivery_section,
        "timeline": lambda args: timeline.section(args, per_backend),
        "fanout": lambda args: fanout.section(args, per_backend),
        "posting": posting.section,
        "memory": memory_section,
        "latency": latency.section,
        "webpage": lambda args: web_page.section(args, per_backend),
        "search": search.section,
        "watch": _watch_section,
        "retention": lambda args: retention.section(args, per_backend),
        "announcements": announcements.section,
        "media": media_upload.section,
        "serving": lambda args: media_serving.section(args, per_backend),
        "groups": lambda args: group_fanout.section(args, per_backend),
        "company": company.section,
    }
    fresh: dict[str, list[str]] = {}
    for key in SECTIONS:
        if key not in wanted:
            continue
        started, load = time.perf_counter(), os.getloadavg()[0]
        body = run[key](args)
        fresh[key] = [
            f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC at commit {commit()} in "
            f"{time.perf_counter() - started:.0f} s (load average {load:.1f} before). "
            f"Machine: {machine()}.",
            "",
            *NOTES[key],
            "",
            *body,
        ]
    previous = args.output.read_text() if args.output.exists() else ""
    text = merged(previous, fresh)
    args.output.write_text(text + "\n")
    print(text)


def commit() -> str:
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()


if __name__ == "__main__":
    main()
