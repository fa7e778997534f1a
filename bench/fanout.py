"""Fan-out: one post by an author with 10,000 remote followers on 50 nodes, until the 50th
signed delivery (one per shared inbox) is acknowledged.

The node is a real `flurfunk serve` (hq.flurfunk.test). Its author is created through the
client API; the remote followers — 200 on each of 50 hosts, each host advertising one shared
inbox — and their follow rows are written straight into the node's database, as the inbox
would have stored them, so that seeding takes seconds (bench/fanout_seed.py). Another 200
followers live on a host that is not on the allowlist: they must get nothing. Every host is
routed by CONNECT_TO to one sink process (bench/fanout_sink.py) that verifies each
delivery's signature with the author's key, answers 202 and records when it answered.

Per post: from just before POST /api/v1/statuses is sent until the sink has acknowledged the
50th signed delivery. Next to it, measured in the same run: the floor, 50 POSTs of the same
Create to the same 50 shared inboxes, signed with the same key through a FederationClient
like the node's, without the database.

Embedded (serve alone, delivering in-process) on each backend; scaled-out (serve plus one
`flurfunk worker`, with a redis-server of the benchmark's own) as well when one can start.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from bench.fanout_seed import BARRED, Shape, author_keys, seed_followers
from bench.fanout_sink import Sink
from bench.ingest import LocalRedis, run_async
from federation.allowlist import Allowlist
from federation.client import FederationClient
from models.db import Database
from models.federation import Delivery, OutboxActivity
from outbox.signing import identity
from outbox.worker import CONTENT_TYPE
from tests.federation_kit import FedNode
from tests.kit import User
from tests.scale_kit import ScaledNode

WAIT = 30.0  # seconds one post's deliveries may take before the benchmark gives up
GRACE = 0.3  # seconds to wait after the last expected delivery for any unexpected one
AIM_MS = 1000.0
Measure = Callable[[str, str, Path], list[str]]  # bench/run.py per_backend's measure


# --- one post, timed -----------------------------------------------------------------------------


@dataclass
class Post:
    api_ms: float  # until POST /api/v1/statuses answered
    first_ms: float  # until the first delivery was acknowledged
    last_ms: float  # until the 50th was
    delivered: int  # acknowledged (202) deliveries of this post's Create
    barred: int  # deliveries to the host that is not allowed (must be 0)
    unsigned: int  # deliveries without a Signature header (must be 0)


async def timed_post(
    client: httpx.AsyncClient, node: FedNode, sink: Sink, db: Database, text: str, expected: int
) -> Post:
    """One post over the client's kept-alive connection, timed until `expected` deliveries
    are acknowledged; then waits until the node has recorded them."""
    started = time.monotonic()
    answer = await client.post("/api/v1/statuses", data={"status": text, "visibility": "public"})
    api_at = time.monotonic()
    answer.raise_for_status()
    activity_id = answer.json()["uri"] + "/activity"
    arrived: list[dict[str, Any]] = []
    deadline = started + WAIT
    while sum(1 for a in arrived if a["verified"]) < expected:
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"only {len(arrived)} of {expected} deliveries arrived in {WAIT:.0f} s:\n"
                + node.log_tail()
            )
        await asyncio.sleep(0.02)
        arrived += [a for a in sink.arrivals() if a["activity_id"] == activity_id]
    await asyncio.sleep(GRACE)
    arrived += [a for a in sink.arrivals() if a["activity_id"] == activity_id]
    await _recorded(db, activity_id, expected)
    ok = sorted(a["at"] for a in arrived if a["verified"])
    return Post(
        api_ms=(api_at - started) * 1000,
        first_ms=(ok[0] - started) * 1000,
        last_ms=(ok[expected - 1] - started) * 1000,
        delivered=len(ok),
        barred=sum(1 for a in arrived if a["host"] == BARRED),
        unsigned=sum(1 for a in arrived if not a["signed"]),
    )


async def _recorded(db: Database, activity_uri: str, expected: int) -> None:
    """Wait until the node has recorded every delivery of the activity as done (so that the
    next post does not share the worker with this one's bookkeeping)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        async with db.read() as session:
            done, rows = (
                await session.execute(
                    select(func.count().filter(Delivery.state == "done"), func.count())
                    .select_from(Delivery)
                    .join(OutboxActivity, OutboxActivity.id == Delivery.activity_id)
                    .where(OutboxActivity.uri == activity_uri)
                )
            ).one()
        if rows != expected:
            raise RuntimeError(f"{rows} delivery rows for one post, expected {expected}")
        if done == expected:
            return
        await asyncio.sleep(0.05)
    raise RuntimeError("the node did not record its deliveries as done")


# --- the floor -----------------------------------------------------------------------------------


async def floor_rounds(
    sink: Sink, shape: Shape, keys: tuple[str, str, str], payload: bytes, rounds: int
) -> list[float]:
    """Milliseconds for 50 signed POSTs to the 50 shared inboxes through one FederationClient
    (warm connections: one untimed round first), without the database."""
    hosts = shape.host_names
    allowlist = Allowlist(hosts)
    client = FederationClient(
        lambda: allowlist, connect_to={h: f"127.0.0.1:{sink.port}" for h in hosts}
    )
    actor, _, private_pem = keys
    sign = identity(actor + "#main-key", private_pem).signer()
    inboxes = [f"http://{h}/inbox" for h in hosts]

    async def post(url: str) -> None:
        fetched = await client.request(
            "POST",
            url,
            content=payload,
            sign=sign,
            headers={"content-type": CONTENT_TYPE, "accept": "application/json"},
        )
        if fetched.status != 202:
            raise RuntimeError(f"the sink answered {fetched.status}")

    times = []
    try:
        for n in range(rounds + 1):
            started = time.perf_counter()
            await asyncio.gather(*(post(url) for url in inboxes))
            if n:
                times.append((time.perf_counter() - started) * 1000)
    finally:
        await client.aclose()
    sink.arrivals()  # forget them
    return times


async def last_payload(db: Database) -> bytes:
    async with db.read() as session:
        payload = await session.scalar(
            select(OutboxActivity.payload).order_by(OutboxActivity.id.desc()).limit(1)
        )
    return (payload or "").encode()


# --- a run ---------------------------------------------------------------------------------------


@dataclass
class FanoutRun:
    backend: str
    mode: str
    shape: Shape
    first: Post  # the first post after start: new connections, keys loaded
    posts: list[Post] = field(default_factory=list)
    floor_ms: list[float] = field(default_factory=list)
    seed_seconds: float = 0.0
    load: float = 0.0


def _node_env(shape: Shape, sink: Sink) -> dict[str, str]:
    hosts = shape.host_names
    return {
        "FLURFUNK_ALLOWLIST": ",".join(hosts),
        "FLURFUNK_CONNECT_TO": ",".join(f"{h}=127.0.0.1:{sink.port}" for h in [*hosts, BARRED]),
    }


def _measure(
    node: FedNode, url: str, sink: Sink, author: User, shape: Shape, backend: str, mode: str
) -> FanoutRun:
    async def measure() -> FanoutRun:
        db = Database(url)
        try:
            keys = await author_keys(db, author.name)
            sink.expect(keys[0] + "#main-key", keys[1])
            load = os.getloadavg()[0]
            expect = shape.hosts

            headers = {"Authorization": f"Bearer {author.token}"}
            async with httpx.AsyncClient(base_url=node.url, headers=headers, timeout=WAIT) as c:

                async def post(n: int) -> Post:
                    text = f"Fan-out benchmark, {mode}, post {n}: " + "words to carry. " * 20
                    return await timed_post(c, node, sink, db, text, expect)

                run = FanoutRun(backend, mode, shape, first=await post(0), load=load)
                for n in range(1, shape.posts + 1):
                    run.posts.append(await post(n))
            run.floor_ms = await floor_rounds(
                sink, shape, keys, await last_payload(db), shape.posts
            )
            return run
        finally:
            await db.dispose()

    result: FanoutRun = run_async(measure)
    return result


def fanout_bench(
    backend: str, url: str, work: Path, sink: Sink, redis: LocalRedis | None, shape: Shape
) -> list[FanoutRun]:
    node = FedNode(data_dir=work, database_url=url, name="hq", extra_env=_node_env(shape, sink))
    node.start()
    try:
        author = node.create_user("author")

        async def seed() -> float:
            db = Database(url)
            try:
                return await seed_followers(db, author.name, shape)
            finally:
                await db.dispose()

        seconds: float = run_async(seed)
        runs = [_measure(node, url, sink, author, shape, backend, "embedded (serve alone)")]
        runs[0].seed_seconds = seconds
    finally:
        node.stop()
    if redis is None:
        return runs
    # The same database, node name and port (so the same PUBLIC_URL), scaled out.
    scaled = ScaledNode(
        data_dir=work,
        database_url=url,
        name="hq",
        port=node.port,
        web_processes=1,
        extra_env={**node.extra_env, "FLURFUNK_REDIS_URL": redis.url},
    )
    scaled.start()
    try:
        mode = "scaled-out (serve + worker, Redis)"
        runs.append(_measure(scaled, url, sink, author, shape, backend, mode))
    finally:
        scaled.stop()
    return runs


# --- the report ----------------------------------------------------------------------------------


def _p50(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def report(runs: list[FanoutRun], skipped: list[str]) -> list[str]:
    lines = [
        "| backend | mode | deliveries per post | API answered p50 ms | first delivery p50 ms "
        "| 50th acknowledged p50 ms | max ms | floor: 50 signed POSTs p50 ms | max ms "
        "| p50 / floor | first post after start ms | load before |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        last = [p.last_ms for p in r.posts]
        counts = sorted({p.delivered for p in [r.first, *r.posts]})
        barred = sum(p.barred for p in [r.first, *r.posts])
        unsigned = sum(p.unsigned for p in [r.first, *r.posts])
        ratio = _p50(last) / _p50(r.floor_ms) if r.floor_ms else 0.0
        verdict = "meets" if max(last) <= AIM_MS else "misses"
        lines.append(
            f"| {r.backend} | {r.mode} | {'/'.join(map(str, counts))} "
            f"(to {r.shape.followers:,} followers; {barred} to the barred host, "
            f"{unsigned} unsigned) | {_p50([p.api_ms for p in r.posts]):.0f} "
            f"| {_p50([p.first_ms for p in r.posts]):.0f} | {_p50(last):.0f} "
            f"| {max(last):.0f} ({verdict} the 1 s aim) | {_p50(r.floor_ms):.1f} "
            f"| {max(r.floor_ms):.1f} | {ratio:.1f} | {r.first.last_ms:.0f} | {r.load:.1f} |"
        )
    seeded = [f"{r.backend}: {r.seed_seconds:.1f} s" for r in runs if r.seed_seconds]
    if seeded:
        lines += ["", "Seeding the followers and follow rows took " + ", ".join(seeded) + "."]
    lines += [f"**{reason}**" for reason in skipped]
    return lines


def check(runs: list[FanoutRun]) -> None:
    """Exactly one signed delivery per allowed shared inbox, nothing to the barred host."""
    for r in runs:
        for p in [r.first, *r.posts]:
            if p.delivered != r.shape.hosts or p.barred or p.unsigned:
                raise RuntimeError(f"{r.backend} {r.mode}: unexpected deliveries: {p}")


# --- the section in bench/run.py -----------------------------------------------------------------

NOTE = [
    "One `flurfunk serve` (hq) on a fresh database; its author (created through the client",
    "API) has 10,000 remote followers, 200 on each of 50 hosts that each advertise one shared",
    "inbox, plus 200 on a host that is not on the allowlist. Followers and follow rows are",
    "written straight into the database (PostgreSQL is then ANALYZEd, as autovacuum would",
    "do). Every host is routed by CONNECT_TO to one sink process that checks each POST's",
    "digest and verifies its signature with the author's key before it answers 202, and",
    "records when it answered (system-wide monotonic clock). A post is timed from just",
    "before POST /api/v1/statuses is sent until the 50th signed delivery is acknowledged;",
    "one untimed post first (new connections, key loaded). Each post must produce exactly",
    "one delivery per allowed shared inbox (50, not 10,000), none to the barred host, and",
    "50 delivery rows recorded as done. The floor: the same Create POSTed to the same 50",
    "inboxes, signed with the same key through a FederationClient like the node's, in the",
    "benchmark process, without the database (one warm-up round, then one round per post).",
    "Scaled-out: the same database behind `serve` plus one `flurfunk worker` on a",
    "redis-server of the benchmark's own.",
    "",
    "What limits it (measured when this benchmark was written, at load 6-10): before, the",
    "audience was computed by loading all 10,000 follower accounts as ORM objects to find 50",
    "shared inboxes (0.3-0.75 s per post); posts then took 1.0-1.2 s p50 and up to 2.1 s",
    "until the 50th delivery. Now one SELECT DISTINCT returns the 50 inboxes (9-25 ms). What",
    "remains is mostly the post's own transaction (35-70 ms on SQLite in-process), where",
    "two queries each walk the author's 10,000 follow rows: the audience, and the home-feed",
    "fan-out looking for local followers among them (10-30 ms). After the commit the",
    "worker claims the 50 rows (15-40 ms to the first delivery) and signs each POST (~250",
    "µs of CPU apiece, most of the floor) on the event loop it shares with the API;",
    "PostgreSQL's server and the sink share the same 2 cores. Scaled out, the wake-up",
    "first travels through Redis to the worker.",
]


def add_arguments(parser: Any) -> None:
    group = parser.add_argument_group("fan-out")
    group.add_argument("--fanout-hosts", type=int, default=50)
    group.add_argument("--fanout-followers-per-host", type=int, default=200)
    group.add_argument("--fanout-posts", type=int, default=20)
    group.add_argument(
        "--fanout-scaled",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run serve + flurfunk worker with a redis-server (when one is installed)",
    )


def section(args: Any, per_backend: Callable[[Any, Measure], list[str]]) -> list[str]:
    shape = Shape(args.fanout_hosts, args.fanout_followers_per_host, args.fanout_posts)
    runs: list[FanoutRun] = []
    sink = Sink()
    redis = LocalRedis.start() if args.fanout_scaled else None
    try:

        def measure(backend: str, url: str, work: Path) -> list[str]:
            runs.extend(fanout_bench(backend, url, work, sink, redis, shape))
            return []

        skipped = per_backend(args, measure)
    finally:
        sink.stop()
        if redis is not None:
            redis.stop()
    check(runs)
    if args.fanout_scaled and redis is None:
        skipped.append("scaled-out rows: skipped (no redis-server on this machine)")
    return [
        f"{shape.followers:,} followers on {shape.hosts} hosts; {shape.posts} timed posts per "
        "row. Times in ms from just before POST /api/v1/statuses.",
        "",
        *report(runs, skipped),
        "",
    ]
