"""Cross-node latency: a post on node A until the `update` event reaches a follower's stream on
node B.

Two nodes, hq (A) and sales (B), allow each other and reach each other through CONNECT_TO on
loopback. anna posts on hq; bob on sales and carl on hq follow her. Before the first post the
benchmark opens a raw WebSocket (`/api/v1/streaming?stream=user`) for bob and one for carl,
and a reader task per socket notes when each `update` frame arrives. For each post, the clock
starts just before `POST /api/v1/statuses` is sent; a sample ends when the frame whose status
carries the post's marker arrives on the stream (its `uri` must be the one the POST answered).

Posts go one at a time; the next one starts after both streams showed the previous one and a
short pause, so each sample is a post on nodes with nothing else to do.

The floors, measured in the same run: the same post until it reaches carl's stream on hq (the
node's own work for a post — write, fan-out, publish, render — without federation), and a bare
HTTP round trip (GET /livez on sales over the same kind of keep-alive connection).

Set-ups: embedded (each node one `flurfunk serve` on SQLite, no Redis) and scaled-out (each node
`serve --workers 2` plus one `flurfunk worker`, on a PostgreSQL database and a Redis database
index of its own on a redis-server the benchmark starts).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect

from bench.ingest import LocalRedis
from tests.federation_kit import FedNode, Network, Plan, follows, network
from tests.kit import User, postgres_available
from tests.scale_kit import scaled_network

PLANS = {"hq": Plan(allow=("sales",)), "sales": Plan(allow=("hq",))}
WARM_UP = 10  # posts before the clock counts: connections, caches and key look-ups settle
PAUSE = 0.05  # seconds between a post's arrival and the next post
ARRIVAL_LIMIT = 30.0  # seconds a post may take to arrive before the benchmark gives up
MARKER = re.compile(r"latency-probe-([0-9a-f]+)-(\d+)")


@dataclass
class Samples:
    """Milliseconds, one per post."""

    values: list[float] = field(default_factory=list)

    def add(self, seconds: float) -> None:
        self.values.append(seconds * 1000)

    def quantile(self, q: float) -> float:
        ordered = sorted(self.values)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    @property
    def p50(self) -> float:
        return statistics.median(self.values)

    @property
    def p95(self) -> float:
        return self.quantile(0.95)

    @property
    def p99(self) -> float:
        return self.quantile(0.99)

    @property
    def max(self) -> float:
        return max(self.values)


@dataclass
class LatencyResult:
    setup: str
    posts: int
    cross_node: Samples
    same_node: Samples
    post_answer: Samples
    round_trip: Samples


class StreamWatch:
    """One raw WebSocket `user` stream; notes when each probe's `update` frame arrives."""

    def __init__(self, node: FedNode, user: User) -> None:
        self.url = node.url.replace("http", "ws", 1) + "/api/v1/streaming?stream=user"
        self.token = user.token
        self.arrived: dict[str, tuple[float, str]] = {}  # marker -> (when, status uri)
        self._news = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> StreamWatch:
        socket = await connect(
            self.url,
            subprotocols=[self.token],  # type: ignore[list-item]  # the token, as clients send it
            compression=None,
            proxy=None,
        )
        self._reader = asyncio.create_task(self._read(socket))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def _read(self, socket: ClientConnection) -> None:
        async with socket:
            async for raw in socket:
                moment = time.perf_counter()
                frame = orjson.loads(raw)
                if frame.get("event") != "update":
                    continue
                status = orjson.loads(frame["payload"])
                found = MARKER.search(status.get("content", ""))
                if found:
                    self.arrived[found.group(0)] = (moment, str(status.get("uri")))
                    self._news.set()

    async def arrival(self, marker: str) -> tuple[float, str]:
        """When the post with `marker` arrived, and the uri its frame carried."""
        deadline = time.perf_counter() + ARRIVAL_LIMIT
        while marker not in self.arrived:
            if self._reader is not None and self._reader.done():
                self._reader.result()
                raise RuntimeError(f"{self.url}: the stream ended")
            self._news.clear()
            left = deadline - time.perf_counter()
            if left <= 0:
                raise RuntimeError(f"{marker} did not reach {self.url} in {ARRIVAL_LIMIT:.0f} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._news.wait(), min(left, 1.0))
        return self.arrived[marker]


async def _probe(
    net: Network, author: User, remote: User, local: User, *, posts: int, setup: str
) -> LatencyResult:
    hq, sales = net["hq"], net["sales"]
    run = secrets.token_hex(3)
    result = LatencyResult(setup, posts, Samples(), Samples(), Samples(), Samples())
    headers = {"Authorization": f"Bearer {author.token}"}
    async with (
        httpx.AsyncClient(base_url=hq.url, headers=headers, timeout=30) as client,
        httpx.AsyncClient(base_url=sales.url, timeout=30) as bare,
        StreamWatch(sales, remote) as far,
        StreamWatch(hq, local) as near,
    ):
        for number in range(-WARM_UP, posts):
            marker = f"latency-probe-{run}-{number + WARM_UP}"
            pinged = time.perf_counter()
            (await bare.get("/livez")).raise_for_status()
            answered_ping = time.perf_counter()
            sent = time.perf_counter()
            answer = await client.post("/api/v1/statuses", json={"status": marker})
            answered = time.perf_counter()
            answer.raise_for_status()
            uri = answer.json()["uri"]
            far_at, far_uri = await far.arrival(marker)
            near_at, near_uri = await near.arrival(marker)
            if far_uri != uri or near_uri != uri:
                raise RuntimeError(f"{marker}: posted as {uri}, streamed as {far_uri}/{near_uri}")
            if number >= 0:
                result.cross_node.add(far_at - sent)
                result.same_node.add(near_at - sent)
                result.post_answer.add(answered - sent)
                result.round_trip.add(answered_ping - pinged)
            await asyncio.sleep(PAUSE)
    return result


def _measure(net: Network, *, posts: int, setup: str) -> LatencyResult:
    hq, sales = net["hq"], net["sales"]
    anna, carl = hq.create_user("anna"), hq.create_user("carl")
    bob = sales.create_user("bob")
    follows(sales, bob, hq, anna)
    carl_follows = hq.api(carl, "POST", f"/api/v1/accounts/{anna.id}/follow")
    carl_follows.raise_for_status()
    return asyncio.run(_probe(net, anna, bob, carl, posts=posts, setup=setup))


@contextlib.contextmanager
def _work_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="flurfunk-bench-latency-") as work:
        yield Path(work)


def embedded(posts: int) -> LatencyResult:
    with _work_dir() as work, network(work, "sqlite", PLANS) as net:
        return _measure(net, posts=posts, setup="embedded")


def scaled_out(posts: int, redis_url: str) -> LatencyResult:
    """`redis_url` without a database index: hq uses index 1, sales index 2."""
    urls = {"hq": f"{redis_url}/1", "sales": f"{redis_url}/2"}
    with _work_dir() as work, scaled_network(work, PLANS, urls) as net:
        return _measure(net, posts=posts, setup="scaled-out")


def report(results: list[LatencyResult], skipped: list[str]) -> list[str]:
    lines = [
        "| set-up | path | p50 ms | p95 ms | p99 ms | max ms | p50 / same-node p50 |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        floor = r.same_node.p50
        rows: list[tuple[str, Samples]] = [
            ("**hq post -> sales follower's stream**", r.cross_node),
            ("floor: hq post -> hq follower's stream", r.same_node),
            ("POST /api/v1/statuses answered", r.post_answer),
            ("bare HTTP round trip (GET /livez)", r.round_trip),
        ]
        for name, s in rows:
            lines.append(
                f"| {r.setup} | {name} | {s.p50:.1f} | {s.p95:.1f} | {s.p99:.1f} | {s.max:.1f} "
                f"| {s.p50 / floor:.2f} |"
            )
    return [*lines, "", *(f"{line}." for line in skipped)]


NOTE = [
    "Two nodes, hq and sales, allow each other and connect through CONNECT_TO on loopback;",
    "anna posts on hq, bob on sales and carl on hq follow her. A raw WebSocket client per",
    "follower (`/api/v1/streaming?stream=user`, opened before the first post) notes when each",
    "`update` frame arrives. The clock starts just before `POST /api/v1/statuses` is sent and",
    "stops when bob's stream shows the post (its `uri` checked against the POST's answer).",
    "Posts go one at a time, the next 50 ms after both streams showed the previous one; 10",
    "warm-up posts are not counted. *embedded*: each node one `flurfunk serve` on SQLite, no",
    "Redis. *scaled-out*: each node `serve --workers 2` plus one `flurfunk worker`, on a",
    "PostgreSQL database and a Redis database index of its own (a redis-server the benchmark",
    "starts). Aims (issue 10): embedded p50 <= 10 ms and p95 <= 25 ms; scaled-out p50 <= 20",
    "ms and p95 <= 50 ms.",
    "",
    "The floor is the same post until carl's stream on hq shows it: what a node does for a",
    "post anyway (the request, its transaction and home fan-out, the stream event, rendering",
    "it for the listener), without federation. Cross-node adds a delivery (wake or job,",
    "claim, sign, POST), the receiving node's work (verify, store, wake or job, claim,",
    "process, fan-out, publish) and a second render, so it cannot be much below 1.5-2 times",
    "the floor; the bare round trip shows what HTTP on loopback costs.",
    "",
    "What limits it (traced stage by stage when this benchmark was written, load 4-5): the",
    "post request itself, ~20-25 ms to its commit (status creation: ~34 statements through",
    "the ORM, see the home timeline section), and on the receiving node processing the",
    "Create (~11 ms, a similar transaction) and rendering the status for the stream",
    "(~6 ms). In between, no stage waits on a timer: web processes wake in-process workers",
    "at once, and with Redis nudge `flurfunk worker` over pub/sub (a job waits ~2 ms instead",
    "of half a poll); claims are single statements that commit without waiting for",
    "PostgreSQL's WAL flush; stream events are published in the background. What remains",
    "on that path is a few milliseconds of database round trips per hop (each costs 1-3 ms",
    "when the two cores are oversubscribed), three durable commits (the post, the stored",
    "activity, its processing) and Python CPU in one event loop per process.",
]


def add_arguments(parser: Any) -> None:
    group = parser.add_argument_group("cross-node latency")
    group.add_argument("--latency-posts", type=int, default=200)
    group.add_argument(
        "--latency-setups",
        default="embedded,scaled",
        help="comma-separated: embedded (SQLite), scaled (PostgreSQL and Redis)",
    )


def section(args: Any) -> list[str]:
    setups = [s.strip() for s in args.latency_setups.split(",") if s.strip()]
    results: list[LatencyResult] = []
    skipped: list[str] = []
    if "embedded" in setups:
        results.append(embedded(args.latency_posts))
    if "scaled" in setups:
        available, reason = postgres_available()
        redis = LocalRedis.start() if available else None
        if not available:
            skipped.append(f"scaled-out: skipped ({reason})")
        elif redis is None:
            skipped.append("scaled-out: skipped (no redis-server on this machine)")
        else:
            try:
                results.append(scaled_out(args.latency_posts, redis.url.rsplit("/", 1)[0]))
            finally:
                redis.stop()
    return [f"{args.latency_posts} posts per set-up.", "", *report(results, skipped), ""]
