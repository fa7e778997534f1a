"""Groups at full size: a post to a group with 5,000 members on 20 nodes, until the last
member's node has acknowledged the group's Announce; next to it, the same post from a user
whom the same 5,000 accounts follow (no group in between).

The group's node is a real `flurfunk serve` (dev). The group (members-only) and two local
accounts are created through the CLI and the client API: `member` posts into the group,
`author` posts to its followers. The 5,000 remote members — 250 on each of 20 hosts, each
host advertising one shared inbox — and their follow rows of the group and of `author` are
written straight into the database, as the inbox would have stored them (bench/fanout_seed.py),
plus 250 on a host that is not on the allowlist, who must get nothing. Every host is routed by
CONNECT_TO to one sink process (bench/fanout_sink.py) that verifies each delivery's signature
(the group's key for the group post, the author's for the plain one), answers 202 and records
when it answered.

Per post: from just before POST /api/v1/statuses until the sink has acknowledged the 20th
signed delivery. The group post goes the way a local member's post goes: stored, then the
group Announces the signed Create once per member node; the plain post is one Create per
node. Both must produce exactly 20 deliveries (one per shared inbox), none to the barred host.

    .venv/bin/python -m bench.group_fanout --group-hosts 2 --group-members-per-host 10

(SQLite only); `make bench` / `python -m bench.run --only groups` runs it on both backends.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, select

from bench.fanout_seed import BARRED, Shape, author_keys, seed_followers
from bench.fanout_sink import Sink
from bench.ingest import run_async
from models.account import Account
from models.db import Database
from models.ids import new_id
from models.relationship import Follow
from tests.federation_kit import FedNode
from tests.kit import User

WAIT = 30.0  # seconds one post's deliveries may take before the benchmark gives up
GRACE = 0.3  # seconds to wait after the last expected delivery for any unexpected one
AIM_MS = 1000.0
GROUP = "bench"
Measure = Callable[[str, str, Path], list[str]]  # bench/run.py per_backend's measure

NOTE = [
    "One `flurfunk serve` (dev, embedded worker) on a fresh database holds a members-only",
    "group; its 5,000 remote members, 250 on each of 20 hosts that each advertise one shared",
    "inbox, plus 250 on a host that is not on the allowlist, are written straight into the",
    "database with their follow rows of the group and of a plain local user (the same",
    "accounts). Every host is routed by CONNECT_TO to one sink process that checks each POST's",
    "digest and verifies its signature (the group's key, or the plain user's) before it",
    "answers 202, and records when. *Group post*: a local member posts into the group",
    "(mentioning it); the node stores it and the group Announces the member's signed Create",
    "once per member node. *Plain post*: the user with the same 5,000 followers posts to its",
    "followers. Each is timed from just before POST /api/v1/statuses until the 20th signed",
    "delivery is acknowledged (one untimed post of each first). A member node then still has",
    "to check the Announce (signature, the author's proof) and store the post: the",
    "cross-node latency section measures such a hop (~tens of ms on loopback).",
]


@dataclass
class Post:
    api_ms: float
    first_ms: float
    last_ms: float
    delivered: int
    barred: int
    unsigned: int


@dataclass
class GroupRun:
    backend: str
    shape: Shape
    times: dict[str, list[Post]] = field(default_factory=dict)
    seed_seconds: float = 0.0
    load: float = 0.0


async def _same_followers(db: Database, name: str, shape: Shape) -> None:
    """Follow rows of `name` from every remote account the group's seeding wrote."""
    async with db.read() as session:
        target = await session.scalar(
            select(Account.id).where(Account.username == name, Account.domain.is_(None))
        )
        remote = (
            await session.execute(
                select(Account.id, Account.uri).where(
                    Account.domain.in_([*shape.host_names, BARRED])
                )
            )
        ).all()
    rows = [
        {"id": new_id(), "account_id": a, "target_account_id": target, "uri": f"{u}#f/{name}"}
        for a, u in remote
    ]
    async with db.write() as session:
        for start in range(0, len(rows), 2000):
            await session.execute(insert(Follow), rows[start : start + 2000])


async def _timed(
    client: httpx.AsyncClient, node: FedNode, sink: Sink, text: str, visibility: str, hosts: int
) -> Post:
    sink.arrivals()  # forget what came before
    started = time.monotonic()
    answer = await client.post("/api/v1/statuses", data={"status": text, "visibility": visibility})
    api_at = time.monotonic()
    answer.raise_for_status()
    arrived: list[dict[str, Any]] = []
    deadline = started + WAIT
    while sum(1 for a in arrived if a["verified"]) < hosts:
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"only {len(arrived)} of {hosts} deliveries in {WAIT:.0f} s:\n" + node.log_tail()
            )
        await asyncio.sleep(0.01)
        arrived += sink.arrivals()
    await asyncio.sleep(GRACE)
    arrived += sink.arrivals()
    ok = sorted(a["at"] for a in arrived if a["verified"])
    return Post(
        api_ms=(api_at - started) * 1000,
        first_ms=(ok[0] - started) * 1000,
        last_ms=(ok[hosts - 1] - started) * 1000,
        delivered=len(ok),
        barred=sum(1 for a in arrived if a["host"] == BARRED),
        unsigned=sum(1 for a in arrived if not a["signed"]),
    )


def _measure(
    node: FedNode, url: str, sink: Sink, member: User, author: User, run: GroupRun, posts: int
) -> None:
    async def measure() -> None:
        db = Database(url)
        try:
            group_keys = await author_keys(db, GROUP)
            author_key = await author_keys(db, author.name)
            run.load = os.getloadavg()[0]
            for kind, user, keys, visibility, mention in (
                ("group", member, group_keys, "private", f"@{GROUP} "),
                ("followers", author, author_key, "private", ""),
            ):
                sink.expect(keys[0] + "#main-key", keys[1])
                headers = {"Authorization": f"Bearer {user.token}"}
                async with httpx.AsyncClient(
                    base_url=node.url, headers=headers, timeout=WAIT
                ) as client:
                    found = []
                    for n in range(posts + 1):
                        text = f"{mention}Group fan-out benchmark, {kind}, post {n}: " + (
                            "words to carry. " * 20
                        )
                        timed = await _timed(client, node, sink, text, visibility, run.shape.hosts)
                        await asyncio.sleep(0.5)  # the worker records the deliveries as done
                        if n:
                            found.append(timed)
                    run.times[kind] = found
        finally:
            await db.dispose()

    run_async(measure)


def group_bench(backend: str, url: str, work: Path, sink: Sink, shape: Shape) -> GroupRun:
    hosts = shape.host_names
    env = {
        "FLURFUNK_ALLOWLIST": ",".join(hosts),
        "FLURFUNK_CONNECT_TO": ",".join(f"{h}=127.0.0.1:{sink.port}" for h in [*hosts, BARRED]),
    }
    node = FedNode(data_dir=work, database_url=url, name="dev", extra_env=env)
    node.cli("migrate")  # before the start limit runs: a busy machine migrates slowly
    node.start()
    run = GroupRun(backend, shape)
    try:
        member, author = node.create_user("member"), node.create_user("author")
        node.cli("group", "create", GROUP, "--owner", member.name, "--visibility", "members")

        async def seed() -> float:
            db = Database(url)
            try:
                seconds = await seed_followers(db, GROUP, shape)
                started = time.perf_counter()
                await _same_followers(db, author.name, shape)
                return seconds + time.perf_counter() - started
            finally:
                await db.dispose()

        run.seed_seconds = run_async(seed)
        _measure(node, url, sink, member, author, run, shape.posts)
    finally:
        node.stop()
    return run


def _p50(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def report(runs: list[GroupRun], skipped: list[str]) -> list[str]:
    lines = [
        "| backend | post | deliveries per post | API answered p50 ms | first delivery p50 ms "
        "| last node acknowledged p50 ms | max ms | load before |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        for kind, label in (("group", "group post (Announce)"), ("followers", "plain post")):
            posts = r.times.get(kind, [])
            if not posts:
                continue
            last = [p.last_ms for p in posts]
            counts = "/".join(map(str, sorted({p.delivered for p in posts})))
            barred = sum(p.barred for p in posts)
            verdict = "meets" if max(last) <= AIM_MS else "misses"
            lines.append(
                f"| {r.backend} | {label} | {counts} (to {r.shape.followers:,} accounts; "
                f"{barred} to the barred host) | {_p50([p.api_ms for p in posts]):.0f} "
                f"| {_p50([p.first_ms for p in posts]):.0f} | {_p50(last):.0f} "
                f"| {max(last):.0f} ({verdict} the 1 s aim) | {r.load:.1f} |"
            )
    seeded = [f"{r.backend}: {r.seed_seconds:.1f} s" for r in runs if r.seed_seconds]
    if seeded:
        lines += ["", "Seeding the members and follow rows took " + ", ".join(seeded) + "."]
    return lines + [f"**{reason}**" for reason in skipped]


def check(runs: list[GroupRun]) -> None:
    for r in runs:
        for posts in r.times.values():
            for p in posts:
                if p.delivered != r.shape.hosts or p.barred or p.unsigned:
                    raise RuntimeError(f"{r.backend}: unexpected deliveries: {p}")


def add_arguments(parser: Any) -> None:
    group = parser.add_argument_group("group fan-out")
    group.add_argument("--group-hosts", type=int, default=20)
    group.add_argument("--group-members-per-host", type=int, default=250)
    group.add_argument("--group-posts", type=int, default=10)


def section(args: Any, per_backend: Callable[[Any, Measure], list[str]]) -> list[str]:
    shape = Shape(args.group_hosts, args.group_members_per_host, args.group_posts)
    runs: list[GroupRun] = []
    sink = Sink()
    try:

        def measure(backend: str, url: str, work: Path) -> list[str]:
            runs.append(group_bench(backend, url, work, sink, shape))
            return []

        skipped = per_backend(args, measure)
    finally:
        sink.stop()
    check(runs)
    return [
        f"{shape.followers:,} members on {shape.hosts} hosts; {shape.posts} timed posts of each "
        "kind per backend. Times in ms from just before POST /api/v1/statuses.",
        "",
        *report(runs, skipped),
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args()
    shape = Shape(args.group_hosts, args.group_members_per_host, args.group_posts)
    sink = Sink()
    try:
        with tempfile.TemporaryDirectory(prefix="flurfunk-bench-groups-") as tmp:
            url = f"sqlite+aiosqlite:///{tmp}/flurfunk.db"
            runs = [group_bench("sqlite", url, Path(tmp), sink, shape)]
    finally:
        sink.stop()
    check(runs)
    print("\n".join(report(runs, [])))


if __name__ == "__main__":
    main()
