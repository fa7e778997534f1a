"""Announcements: one to the company of N nodes x M staff, until it shows on every node, and
the read receipts' round trip back to the announcing node.

N real `flurfunk serve` nodes (SQLite, embedded worker) allow each other on loopback. Each
node gets M staff written straight into its database (accounts and users, as `user create`
writes them; they never sign in, so they count as not having read it) and one reader who
polls Mastodon's `GET /api/v1/announcements`. An admin on the first node (hq) has met one
reader on every other node, so `company` names them all.

Per round: the clock starts just before `POST /api/v1/flurfunk/announcements` (company,
acknowledgement required); *shown* is when the reader of each node first lists it (polled
every 20 ms; the slowest node ends the sample). Then every reader dismisses it at once and
the clock runs until hq's receipts show an acknowledgement from every node (*receipts round
trip*): each node reports reads in a periodic batch (every 5 s, `outbox.periodic.INTERVAL`),
so that figure is dominated by where in its period each node's job was; the size of hq's
receipts answer (with every not-yet-read staff member listed) is given too.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.seed import _accounts, _insert
from models.db import Database
from models.tables import Account, User
from tests.federation_kit import FedNode, Network, Plan, network, resolve
from tests.kit import User as KitUser

NOTE = [
    "N real nodes (SQLite, one `flurfunk serve` each) allow each other on loopback; each has",
    "M staff written into its database and one reader polling `GET /api/v1/announcements`",
    "every 20 ms. *Shown*: from `POST /api/v1/flurfunk/announcements` (company, acknowledgement",
    "required) on hq until the slowest node's reader lists it. *Receipts round trip*: every",
    "reader dismisses it, until hq's receipts show a read from every node; nodes report reads",
    "in a periodic batch every 5 s, which dominates that figure.",
]
POLL = 0.02  # seconds between two looks
LIMIT = 120.0  # seconds a step may take before the benchmark gives up
START_BATCH = 4  # nodes started at once


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("announcements")
    group.add_argument("--announce-nodes", type=int, default=20)
    group.add_argument("--announce-staff", type=int, default=500)
    group.add_argument("--announce-rounds", type=int, default=3)


def names(count: int) -> list[str]:
    return ["hq", *(f"n{i}" for i in range(1, count))]


def plans(count: int) -> dict[str, Plan]:
    all_names = names(count)
    return {n: Plan(allow=tuple(o for o in all_names if o != n)) for n in all_names}


async def seed_staff(node: FedNode, count: int) -> None:
    db = Database(node.database_url)
    try:
        accounts, users = _accounts(node.public_url, count)
        await _insert(db, Account, accounts)
        await _insert(db, User, users)
    finally:
        await db.dispose()


def until(check: Callable[[], Any], what: str) -> float:
    """Seconds (monotonic) at which `check` first answered something truthy."""
    deadline = time.monotonic() + LIMIT
    while True:
        if check():
            return time.monotonic()
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {LIMIT:.0f} s")
        time.sleep(POLL)


def listed(node: FedNode, reader: KitUser, marker: str) -> str | None:
    answer = node.api(reader, "GET", "/api/v1/announcements")
    for item in answer.json() if answer.status_code == 200 else []:
        if marker in item["content"]:
            return str(item["id"])
    return None


def one_round(net: Network, boss: KitUser, readers: dict[str, KitUser], n: int) -> dict[str, Any]:
    hq = net["hq"]
    marker = f"bench-announcement-{n}-{time.time_ns()}"
    started = time.monotonic()
    made = hq.api(
        boss,
        "POST",
        "/api/v1/flurfunk/announcements",
        json={"text": marker, "audience": "company", "requires_acknowledgement": True},
    ).json()
    local_ids: dict[str, str] = {}
    shown: list[float] = []
    for name, reader in readers.items():
        node = net[name]

        def found(node: FedNode = node, reader: KitUser = reader, name: str = name) -> bool:
            local = listed(node, reader, marker)
            if local:
                local_ids[name] = local
            return local is not None

        shown.append(until(found, f"the announcement on {node.host}") - started)
    read_started = time.monotonic()
    for name, reader in readers.items():
        net[name].api(reader, "POST", f"/api/v1/announcements/{local_ids[name]}/dismiss")
    size = 0

    def all_read() -> bool:
        nonlocal size
        answer = hq.api(boss, "GET", f"/api/v1/flurfunk/announcements/{made['id']}/receipts")
        size = len(answer.content)
        rows = answer.json()["nodes"]
        return len(rows) == len(readers) and all(r["acknowledged"] >= 1 for r in rows)

    receipts = until(all_read, "every node's read back on hq") - read_started
    return {
        "shown": max(shown),
        "median_node": statistics.median(shown),
        "receipts": receipts,
        "size": size,
    }


def run(count: int, staff: int, rounds: int) -> list[dict[str, Any]]:
    with (
        tempfile.TemporaryDirectory(prefix="flurfunk-bench-announce-") as tmp,
        # First-start migrations of twenty nodes at once take minutes on a busy 2-core
        # machine (beyond the kit's start limit) and are no part of what is measured.
        network(Path(tmp), "sqlite", plans(count), premigrated=True, at_once=START_BATCH) as net,
    ):
        for name in names(count):
            asyncio.run(seed_staff(net[name], staff))
        hq = net["hq"]
        boss = hq.create_user("boss")
        hq.cli("user", "role", boss.name, "admin")
        readers = {name: net[name].create_user("reader") for name in names(count)}
        for name in names(count)[1:]:
            assert resolve(hq, boss, net[name].handle(readers[name])) is not None
        return [one_round(net, boss, readers, n) for n in range(rounds)]


def section(args: argparse.Namespace) -> list[str]:
    results = run(args.announce_nodes, args.announce_staff, args.announce_rounds)
    lines = [
        f"{args.announce_nodes} nodes x {args.announce_staff:,} staff (plus one reader each), "
        f"{args.announce_rounds} rounds, SQLite, one serve process per node.",
        "",
        "| round | shown on every node (ms) | median node (ms) | receipts round trip (s) "
        "| receipts answer (KB) |",
        "|---|---|---|---|---|",
    ]
    for n, r in enumerate(results, 1):
        lines.append(
            f"| {n} | {r['shown'] * 1000:.0f} | {r['median_node'] * 1000:.0f} | "
            f"{r['receipts']:.1f} | {r['size'] / 1024:.0f} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args()
    print("\n".join(section(args)))


if __name__ == "__main__":
    main()
