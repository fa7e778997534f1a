"""Inbox ingest: signed Create activities verified and stored per second by one serve process.

Next to it, measured in the same run with the same pre-signed requests, the floor: a bare
Starlette endpoint on uvicorn (a process of its own, like the node) that only checks the
digest, verifies the signature with a cached key and parses the JSON with orjson.

The senders are raw HTTP/1.1 clients over keep-alive connections on loopback (an httpx client
could not send fast enough to load the node), writing requests signed before the clock starts.
Requests name the node as http://hq.flurfunk.test:<port> (its PUBLIC_URL) in their Host header
and signature; the node fetches the signer's key from the fake remote through CONNECT_TO.

The node runs twice per backend: as `make run` starts it (it also processes what it stores,
and the rate of that is reported too), and with REDIS_URL set, as in a scaled-out deployment
where `flurfunk worker` processes do the processing and the serve process only receives.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.fakeremote import FakeRemote
from federation.httpsig import SignatureError, body_digest_matches, check_freshness, parse, verify
from federation.keys import load_public_key
from models.db import Database
from models.federation import InboxActivity
from tests.federation_kit import FedNode
from tests.kit import free_port

NODE_HOST = "hq.flurfunk.test"
FLOOR_KEY_ENV = "FLURFUNK_BENCH_FLOOR_PUBLIC_KEY"
ROOT = Path(__file__).resolve().parent.parent
WARM_UP = 300
DEADLINE = 240.0  # seconds any one blast may take before the bench gives up
DRAIN_LIMIT = 20.0  # seconds to wait for the node to process what it stored


# --- the floor: verify + parse, nothing else -------------------------------------------------


def floor_app() -> Starlette:
    """uvicorn factory: POST /inbox verifies the signature and parses the body, answers 202."""
    public_pem = os.environ[FLOOR_KEY_ENV]

    async def inbox(request: Request) -> Response:
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            parsed = parse("POST", f"http://{NODE_HOST}{request.url.path}", headers)
            if body_digest_matches(headers, body) is not True:
                raise SignatureError("digest")
            check_freshness(parsed, headers, time.time(), 300.0)
            verify(parsed, load_public_key(public_pem))
        except SignatureError as exc:
            return Response(str(exc), status_code=401)
        try:
            orjson.loads(body)
        except orjson.JSONDecodeError:
            return Response("not JSON", status_code=400)
        return Response(status_code=202)

    return Starlette(routes=[Route("/inbox", inbox, methods=["POST"])])


class Floor:
    """The floor endpoint in a uvicorn process of its own."""

    def __init__(self, remote: FakeRemote) -> None:
        self.port = free_port()
        env = dict(os.environ, **{FLOOR_KEY_ENV: remote.public_pem})
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bench.ingest:floor_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
        )
        _wait_for_port(self.port, self.process)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _wait_for_port(port: int, process: subprocess.Popen[Any]) -> None:
    import socket

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the floor server exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("the floor server did not start within 30 s")


# --- the senders -----------------------------------------------------------------------------


async def _response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
            if length:
                await reader.readexactly(length)
    return status


async def blast(port: int, requests: list[bytes], connections: int) -> tuple[Counter[int], float]:
    """Send every request once over `connections` keep-alive connections, each waiting for
    its answer before sending the next; returns the answers' status counts and the seconds."""
    statuses: Counter[int] = Counter()
    queue = iter(requests)

    async def sender() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        try:
            for message in queue:
                writer.write(message)
                statuses[await _response(reader)] += 1
        finally:
            writer.close()

    started = time.perf_counter()
    async with asyncio.timeout(DEADLINE):
        await asyncio.gather(*(sender() for _ in range(connections)))
    return statuses, time.perf_counter() - started


def run_async(main: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    """Run on uvloop when it is installed (it comes with uvicorn[standard])."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main())
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main())


# --- the run ---------------------------------------------------------------------------------


class LocalRedis:
    """A throwaway redis-server on loopback, so that a serve process runs as in a scaled-out
    deployment (REDIS_URL set: deliveries and processing belong to `flurfunk worker`)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""],
            stdout=subprocess.DEVNULL,
        )
        _wait_for_port(self.port, self.process)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @classmethod
    def start(cls) -> LocalRedis | None:
        return cls() if shutil.which("redis-server") else None

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@dataclass
class NodeRun:
    """One blast at one serve process."""

    mode: str
    statuses: Counter[int]
    seconds: float
    stored: int  # rows added by the blast
    processed: int | None = None  # of those, processed by the same process meanwhile / after
    processing_seconds: float = 0.0  # from the first request until the backlog was empty

    @property
    def rate(self) -> float:
        return self.statuses[202] / self.seconds


@dataclass
class IngestResult:
    backend: str
    sent: int
    connections: int
    floor_rate: float
    floor_statuses: Counter[int]
    runs: list[NodeRun]
    load: float


async def _count_stored(url: str) -> tuple[int, int]:
    """(rows stored, rows processed or given up) in the node's inbox table."""
    db = Database(url)
    try:
        async with db.read() as session:
            stored, done = (
                await session.execute(
                    select(
                        func.count(),
                        func.count().filter(
                            InboxActivity.processed_at.is_not(None) | InboxActivity.failed
                        ),
                    )
                )
            ).one()
            return int(stored), int(done)
    finally:
        await db.dispose()


async def _drain(url: str, started: float, limit: float) -> tuple[int, float]:
    """Wait (at most `limit` seconds) until the node has processed every stored activity;
    (activities processed, seconds since `started`)."""
    deadline = time.perf_counter() + limit
    while True:
        stored, done = await _count_stored(url)
        if done >= stored or time.perf_counter() >= deadline:
            return done, time.perf_counter() - started
        await asyncio.sleep(0.25)


def ingest_bench(
    backend: str,
    url: str,
    work: Path,
    remote: FakeRemote,
    remote_port: int,
    floor: Floor,
    redis: LocalRedis | None,
    *,
    activities: int,
    connections: int,
) -> IngestResult:
    # A FedNode writes its output to a file (a pipe nobody reads could stall the node).
    node = FedNode(data_dir=work, database_url=url, name=NODE_HOST.split(".")[0])
    node.extra_env = {
        "FLURFUNK_ALLOWLIST": remote.host,
        "FLURFUNK_CONNECT_TO": f"{remote.host}=127.0.0.1:{remote_port}",
    }
    load = os.getloadavg()[0]
    # Signed before the clock starts, and again for every run: the node rejects Dates older
    # than five minutes.
    warm, requests = _signed(remote, node, f"{backend}-a", activities)
    floor_statuses, floor_seconds = run_async(lambda: blast(floor.port, requests, connections))
    runs = [_node_run(node, url, warm, requests, connections, "processing in the same process")]
    if redis is not None:
        node.extra_env["FLURFUNK_REDIS_URL"] = redis.url
        warm, requests = _signed(remote, node, f"{backend}-b", activities)
        runs.append(_node_run(node, url, warm, requests, connections, "with REDIS_URL (scale-out)"))
    return IngestResult(
        backend=backend,
        sent=activities,
        connections=connections,
        floor_rate=floor_statuses[202] / floor_seconds,
        floor_statuses=floor_statuses,
        runs=runs,
        load=load,
    )


def _signed(
    remote: FakeRemote, node: FedNode, run: str, activities: int
) -> tuple[list[bytes], list[bytes]]:
    tag = f"{run}-{int(time.time())}"
    return (
        remote.signed_posts(node.domain, "/inbox", tag + "-warm", WARM_UP),
        remote.signed_posts(node.domain, "/inbox", tag, activities),
    )


def _node_run(
    node: FedNode,
    url: str,
    warm: list[bytes],
    requests: list[bytes],
    connections: int,
    mode: str,
) -> NodeRun:
    processing = "FLURFUNK_REDIS_URL" not in node.extra_env

    async def measure() -> NodeRun:
        # The first request makes the node fetch the sender's key from the fake remote.
        first, _ = await blast(node.port, warm[:1], 1)
        if first[202] != 1:
            raise RuntimeError(f"the node refused an activity: {dict(first)}\n{node.log_tail()}")
        await blast(node.port, warm[1:], connections)
        if processing:
            await _drain(url, time.perf_counter(), DRAIN_LIMIT)
        before, processed_before = await _count_stored(url)
        started = time.perf_counter()
        statuses, seconds = await blast(node.port, requests, connections)
        stored, _ = await _count_stored(url)
        run = NodeRun(mode, statuses, seconds, stored - before)
        if processing:
            processed, run.processing_seconds = await _drain(url, started, DRAIN_LIMIT)
            run.processed = processed - processed_before
        return run

    node.start()
    try:
        result: NodeRun = run_async(measure)
    finally:
        node.stop()
    return result


def report(results: list[IngestResult], skipped: list[str]) -> list[str]:
    lines = [
        "| backend | serve process | accepted (202) and stored / s | floor: verify + parse / s "
        "| node / floor | stored / sent | processed meanwhile and after | load before |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for run in r.runs:
            processing = "— (not in this process)"
            if run.processed is not None:
                processing = (
                    f"{run.processed / run.processing_seconds:,.0f} / s"
                    if run.processed >= run.stored
                    else f"{run.processed:,} in {run.processing_seconds:.0f} s"
                )
            ratio = run.rate / r.floor_rate if r.floor_rate else 0.0
            lines.append(
                f"| {r.backend} | {run.mode} | {run.rate:,.0f} | {r.floor_rate:,.0f} "
                f"| {ratio:.2f} | {run.stored:,} / {r.sent:,} | {processing} | {r.load:.1f} |"
            )
            odd = {k: v for k, v in run.statuses.items() if k != 202}
            if odd:
                lines.append(f"| {r.backend} | {run.mode}: answers other than 202: {odd} |")
        if r.floor_statuses[202] != r.sent:
            lines.append(f"| {r.backend} | floor answers: {dict(r.floor_statuses)} |")
    lines += [f"**{reason}**" for reason in skipped]
    return lines
