"""Keyword watch cost per post with 200 terms, next to posting without terms.

`python -m bench.run --only watch` (or `python -m bench.watch --watch-posts 200`) measures, in
one process and one run:

- the matcher alone (`outbox.watch_match.WatchList.scan`) over realistic post texts that match
  nothing (the common case: one pass of the combined pattern) and texts that match (then each
  term runs on its own), with 200 terms (180 words and phrases, 20 regular expressions), and
  how long compiling the 200 terms takes (once per change of the terms, per process);
- posting end to end (`outbox.statuses.post_status` in its own write transaction: the status,
  its feed entries, the scan, and for a match the compliance report) without terms, with 200
  terms, and without terms again (the mean of both runs is the baseline), per backend.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from models.compliance import terms as stored_terms
from models.db import Database
from models.migrate import upgrade
from models.settings import Settings
from outbox import watch
from outbox.accounts import create_local_account
from outbox.permissions import Operator
from outbox.statuses import Draft, post_status
from outbox.watch_match import Term, WatchList

WORDS = [
    "Kantine",
    "Meeting",
    "Quartal",
    "Budget",
    "Bericht",
    "report",
    "Projekt",
    "Kunde",
    "Vertrieb",
    "Team",
    "heute",
    "morgen",
    "Mittag",
    "Kaffee",
    "Termin",
    "Release",
    "Planung",
    "Sprint",
    "Review",
    "Druckerei",
    "Parkplatz",
    "Urlaub",
    "Feier",
]
NOTE = [
    "200 terms: 180 words and two-word phrases (whole words, any case) and 20 regular",
    "expressions such as `\\bQ[1-4]/20\\d\\d\\b`; posts of 12-40 words from an everyday",
    "vocabulary. *Scan* is the matcher alone, in-process; *post* is `post_status` in a write",
    "transaction of its own (status, feed entries, scan, and a compliance report on a match),",
    "sequentially on one connection pool; the baseline is the mean of a run before and a run",
    "after the run with terms.",
]


def terms(count: int, rng: random.Random) -> list[Term]:
    out = []
    for n in range(count):
        if n % 10 == 9:
            pattern = rf"\bQ[1-4]/20\d\d\b|\bproj{n}-[a-z]+\b"
            out.append(Term(n + 1, pattern, f"label {n}", regex=True))
        elif n % 3 == 0:
            out.append(Term(n + 1, f"Codename{n} Falke", f"label {n}"))
        else:
            out.append(Term(n + 1, f"geheim{n}{rng.choice('xyz')}", f"label {n}"))
    return out


def text(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(12, 40)))


def scan_rows(count: int, rng: random.Random) -> list[str]:
    listed = terms(count, rng)
    started = time.perf_counter()
    compiled = WatchList.of(listed)
    compile_ms = (time.perf_counter() - started) * 1000
    plain = [text(rng) for _ in range(2000)]
    matching = [t + " Codename0 Falke" for t in plain[:500]]
    empty = WatchList.of([])

    def per_post(watch_list: WatchList, texts: list[str]) -> float:
        started = time.perf_counter()
        for body in texts:
            watch_list.scan(body)
        return (time.perf_counter() - started) / len(texts) * 1e6

    return [
        "| scan | µs per post |",
        "|---|---:|",
        f"| no terms | {per_post(empty, plain):.1f} |",
        f"| {count} terms, no match | {per_post(compiled, plain):.1f} |",
        f"| {count} terms, a match | {per_post(compiled, matching):.1f} |",
        "",
        f"Compiling {count} terms: {compile_ms:.1f} ms (once per change, per process).",
        "",
    ]


async def _post_times(db: Database, author_id: int, texts: list[str]) -> list[float]:
    from models.account import Account

    times = []
    for body in texts:
        started = time.perf_counter()
        async with db.write() as session:
            author = await session.get(Account, author_id)
            assert author is not None
            await post_status(session, Settings(), author, Draft(text=body, visibility="public"))
        times.append((time.perf_counter() - started) * 1000)
    return times


async def _posting(url: str, posts: int, count: int, rng: random.Random) -> list[str]:
    db = Database(url)
    try:
        async with db.write() as session:
            author = await create_local_account(
                session, Settings(), username="bench", password_hash="x", role="user"
            )
            author_id = author.id
        texts = [text(rng) for _ in range(posts)]
        await _post_times(db, author_id, texts[:20])  # warm up
        before = await _post_times(db, author_id, texts)
        operator = Operator("bench")
        async with db.write() as session:
            for term in terms(count, rng):
                await watch.add_term(session, operator, term.term, term.label, is_regex=term.regex)
        with_terms = await _post_times(db, author_id, texts)
        async with db.write() as session:
            for row in await stored_terms(session):
                await watch.remove_term(session, operator, row.id)
        after = await _post_times(db, author_id, texts)
    finally:
        await db.dispose()
    base = before + after

    def p(values: list[float], q: float) -> float:
        return sorted(values)[min(len(values) - 1, int(q * len(values)))]

    ratio = statistics.mean(with_terms) / statistics.mean(base)
    return [
        f"| no terms | {statistics.mean(base):.2f} | {p(base, 0.5):.2f} | "
        f"{p(base, 0.99):.2f} | 1.00 |",
        f"| {count} terms | {statistics.mean(with_terms):.2f} | {p(with_terms, 0.5):.2f} | "
        f"{p(with_terms, 0.99):.2f} | {ratio:.2f} |",
    ]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("keyword watch")
    group.add_argument("--watch-terms", type=int, default=200)
    group.add_argument("--watch-posts", type=int, default=1000)


def section(
    args: argparse.Namespace,
    per_backend: Callable[[argparse.Namespace, Callable[[str, str, Path], list[str]]], list[str]],
) -> list[str]:
    rng = random.Random(14)
    lines = scan_rows(args.watch_terms, rng)

    def measure(backend: str, url: str, work: Path) -> list[str]:
        upgrade(url)
        rows = asyncio.run(_posting(url, args.watch_posts, args.watch_terms, random.Random(7)))
        return [
            f"**{backend}**, {args.watch_posts} posts per run:",
            "",
            "| post | mean ms | p50 ms | p99 ms | vs. no terms |",
            "|---|---:|---:|---:|---:|",
            *rows,
            "",
        ]

    return lines + per_backend(args, measure)


def main() -> None:
    from bench.run import per_backend

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite")
    add_arguments(parser)
    args = parser.parse_args()
    print("\n".join(section(args, per_backend)))


if __name__ == "__main__":
    main()
