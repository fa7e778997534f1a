"""Status creation and same-node real time, next to the floor of a post.

One `flurfunk serve` on SQLite (embedded: in-process delivery worker and event broker). Eight
authors, each followed by ~30 local accounts and by two accounts on each of 5 remote nodes
(bench/posting_seed.py writes them straight into the database); the remote nodes are one sink
process behind CONNECT_TO that answers 202 at once, so each post's five deliveries really go
out while the node posts.

- *server time*: sequential `POST /api/v1/statuses` over one keep-alive connection on
  loopback, authors taking turns (p50/p95/p99 of the round trip, and the serve process's
  CPU per post from /proc).
- *throughput*: 8 concurrent clients.
- *same-node real time*: every local follower of one author holds a raw WebSocket `user`
  stream; the clock starts before the POST is sent and stops when the first follower's
  stream has the `update` (its `uri` checked against the answer), and when the last one has.
- *floor*: bench/posting_floor.py, a bare Starlette endpoint on uvicorn (a process of its own,
  on the same database after the node stopped) that parses the same request, writes the
  status row, its feed rows and its delivery rows in one transaction through SQLAlchemy Core
  and answers the node's JSON with orjson; measured the same ways.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect

from bench.delivery import Sink
from bench.ingest import ROOT, _wait_for_port
from bench.posting_profile import node_env
from bench.posting_seed import Seeded, seed_posting
from bench.timeline import process_cpu
from models.migrate import upgrade
from tests.kit import RunningNode, free_port

ARRIVAL_LIMIT = 30.0


@dataclass
class Samples:
    """Milliseconds."""

    values: list[float] = field(default_factory=list)
    cpu_ms: float = 0.0  # server CPU per request, where measured

    def quantile(self, q: float) -> float:
        ordered = sorted(self.values)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    def row(self, name: str, extra: str = "") -> str:
        cpu = f"{self.cpu_ms:.2f}" if self.cpu_ms else "-"
        return (
            f"| {name} | {statistics.median(self.values):.2f} | {self.quantile(0.95):.2f} "
            f"| {self.quantile(0.99):.2f} | {cpu} | {len(self.values)} | {extra} |"
        )


@dataclass
class Measured:
    server: Samples
    rate: float
    first_stream: Samples | None = None
    last_stream: Samples | None = None
    answered: Samples | None = None
    template: dict[str, object] | None = None


def _form(n: int, marker: str = "") -> dict[str, str]:
    return {"status": f"Benchmark post {n} #bench {marker}".strip(), "visibility": "public"}


async def server_time(base: str, tokens: list[str], posts: int, pid: int) -> Samples:
    samples = Samples()
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        for n in range(20):  # warm-up
            answer = await client.post(
                "/api/v1/statuses",
                headers={"Authorization": f"Bearer {tokens[n % len(tokens)]}"},
                data=_form(n),
            )
            answer.raise_for_status()
        cpu = process_cpu(pid)
        for n in range(posts):
            headers = {"Authorization": f"Bearer {tokens[n % len(tokens)]}"}
            started = time.perf_counter()
            answer = await client.post("/api/v1/statuses", headers=headers, data=_form(n))
            samples.values.append((time.perf_counter() - started) * 1000)
            answer.raise_for_status()
        await asyncio.sleep(1)  # the deliveries of the last posts, which belong to them
        samples.cpu_ms = (process_cpu(pid) - cpu) / posts * 1000
    return samples


async def throughput(base: str, tokens: list[str], total: int, concurrency: int) -> float:
    counter = iter(range(total))

    async def poster(client: httpx.AsyncClient, token: str) -> None:
        for n in counter:
            answer = await client.post(
                "/api/v1/statuses", headers={"Authorization": f"Bearer {token}"}, data=_form(n)
            )
            answer.raise_for_status()

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(poster(client, tokens[i % len(tokens)]) for i in range(concurrency)))
        return total / (time.perf_counter() - started)


class Stream:
    """A follower's raw WebSocket `user` stream: when each marked `update` arrived."""

    def __init__(self, base: str, token: str) -> None:
        self.url = base.replace("http", "ws", 1) + "/api/v1/streaming?stream=user"
        self.token = token
        self.arrived: dict[str, tuple[float, str]] = {}
        self.news = asyncio.Event()
        self.reader: asyncio.Task[None] | None = None

    async def open(self) -> None:
        socket = await connect(
            self.url,
            subprotocols=[self.token],  # type: ignore[list-item]  # the token, as clients send it
            compression=None,
            proxy=None,
        )
        self.reader = asyncio.create_task(self._read(socket))

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.reader

    async def _read(self, socket: ClientConnection) -> None:
        async with socket:
            async for raw in socket:
                moment = time.perf_counter()
                frame = orjson.loads(raw)
                if frame.get("event") != "update":
                    continue
                status = orjson.loads(frame["payload"])
                for word in str(status.get("content", "")).split():
                    if word.startswith("probe-"):
                        self.arrived[word.removesuffix("</p>")] = (moment, str(status["uri"]))
                        self.news.set()

    async def arrival(self, marker: str) -> tuple[float, str]:
        deadline = time.perf_counter() + ARRIVAL_LIMIT
        while marker not in self.arrived:
            if self.reader is not None and self.reader.done():
                raise RuntimeError(f"{self.url}: the stream ended")
            self.news.clear()
            if time.perf_counter() > deadline:
                raise RuntimeError(f"{marker} did not arrive in {ARRIVAL_LIMIT:.0f} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.news.wait(), 1.0)
        return self.arrived[marker]


async def real_time(base: str, token: str, follower_tokens: list[str], posts: int) -> Measured:
    streams = [Stream(base, t) for t in follower_tokens]
    first, last, answered = Samples(), Samples(), Samples()
    run = secrets.token_hex(3)
    try:
        for stream in streams:
            await stream.open()
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            headers = {"Authorization": f"Bearer {token}"}
            for n in range(-10, posts):
                marker = f"probe-{run}-{n + 10}"
                sent = time.perf_counter()
                answer = await client.post(
                    "/api/v1/statuses", headers=headers, data=_form(n, marker)
                )
                done = time.perf_counter()
                answer.raise_for_status()
                uri = answer.json()["uri"]
                arrivals = [await s.arrival(marker) for s in streams]
                if any(u != uri for _, u in arrivals):
                    raise RuntimeError(f"{marker}: posted as {uri}, streamed otherwise")
                if n >= 0:
                    first.values.append((arrivals[0][0] - sent) * 1000)
                    last.values.append((max(a for a, _ in arrivals) - sent) * 1000)
                    answered.values.append((done - sent) * 1000)
                await asyncio.sleep(0.05)
    finally:
        for stream in streams:
            await stream.close()
    return Measured(Samples(), 0.0, first, last, answered)


def measure_node(
    work: Path, url: str, seeded: Seeded, sink: Sink, args: argparse.Namespace
) -> Measured:
    node = RunningNode(data_dir=work, database_url=url, extra_env=node_env(work, url, sink.port))
    node.extra_env["FLURFUNK_PUBLIC_URL"] = node.url
    node.start()
    assert node.process is not None
    try:
        tokens = list(seeded.tokens.values())
        template = httpx.post(
            node.url + "/api/v1/statuses",
            headers={"Authorization": f"Bearer {tokens[0]}"},
            data=_form(0),
            timeout=60,  # the first post on a cold node, on a busy machine
        ).json()
        server = asyncio.run(
            server_time(node.url, tokens, args.posting_sequential, node.process.pid)
        )
        rate = asyncio.run(throughput(node.url, tokens, args.posting_concurrent, 8))
        author = next(iter(seeded.tokens))
        followers = [seeded.follower_tokens[f] for f in seeded.followers[author]]
        live = asyncio.run(
            real_time(node.url, seeded.tokens[author], followers, args.posting_stream)
        )
    finally:
        node.stop()
    return Measured(server, rate, live.first_stream, live.last_stream, live.answered, template)


def measure_floor(
    url: str, seeded: Seeded, template: dict[str, object], work: Path, args: argparse.Namespace
) -> Measured:
    port = free_port()
    path = work / "template.json"
    path.write_bytes(orjson.dumps(template))
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.posting_floor", str(port), url, str(path)], cwd=ROOT
    )
    try:
        _wait_for_port(port, process)
        base = f"http://127.0.0.1:{port}"
        tokens = list(seeded.tokens.values())
        server = asyncio.run(server_time(base, tokens, args.posting_sequential, process.pid))
        rate = asyncio.run(throughput(base, tokens, args.posting_concurrent, 8))
    finally:
        process.terminate()
        process.wait(10)
    return Measured(server, rate)


def run(args: argparse.Namespace) -> list[str]:
    work = Path(tempfile.mkdtemp(prefix="flurfunk-bench-posting-"))
    sink = Sink()
    load = os.getloadavg()[0]
    try:
        url = f"sqlite+aiosqlite:///{work / 'flurfunk.db'}"
        upgrade(url)
        seeded = asyncio.run(seed_posting(url, "http://127.0.0.1:9"))
        node = measure_node(work, url, seeded, sink, args)
        assert node.template is not None
        floor = measure_floor(url, seeded, node.template, work, args)
    finally:
        sink.stop()
        shutil.rmtree(work, ignore_errors=True)
    followers = len(seeded.followers[next(iter(seeded.tokens))])
    assert node.first_stream is not None
    assert node.last_stream is not None
    assert node.answered is not None
    return [
        f"SQLite, embedded; {len(seeded.tokens)} authors with ~30 local followers and 2 "
        f"followers on each of 5 remote nodes; load average {load:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after.",
        "",
        "| measured | p50 ms | p95 ms | p99 ms | server CPU ms/post | samples | |",
        "|---|---|---|---|---|---|---|",
        node.server.row("**POST /api/v1/statuses** (sequential)"),
        floor.server.row("floor: the same request, bare endpoint (sequential)"),
        node.answered.row(f"POST answered, {followers} followers streaming"),
        node.first_stream.row("**POST until a follower's WebSocket has the `update`**"),
        node.last_stream.row(f"POST until all {followers} followers' WebSockets have it"),
        "",
        "| throughput, 8 concurrent clients | statuses/s | / floor |",
        "|---|---|---|",
        f"| node | {node.rate:,.0f} | {node.rate / floor.rate:.2f} |",
        f"| floor | {floor.rate:,.0f} | 1.00 |",
        "",
    ]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("status creation and same-node real time")
    group.add_argument("--posting-sequential", type=int, default=300)
    group.add_argument("--posting-concurrent", type=int, default=400)
    group.add_argument("--posting-stream", type=int, default=100)


NOTE = [line for line in (__doc__ or "").splitlines()[2:]]


def section(args: argparse.Namespace) -> list[str]:
    return run(args)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    print("\n".join(run(parser.parse_args())))
