"""Inbox ingest: signed Create activities verified and stored per second by one serve process.

Next to it, measured in the same run with the same pre-signed requests, the floor: a bare
Starlette endpoint on uvicorn (a process of its own, like the node) that only checks the
digest, verifies the signature with a cached key and parses the JSON with orjson.

The senders are raw HTTP/1.1 clients over keep-alive connections on loopback (an httpx client
could not send fast enough to load the node), writing requests signed before the clock starts.
Requests name the node as http://hq.flurfunk.test:<port> (its PUBLIC_URL) in their Host header
and signature; the node fetches the signer's key from the fake remote through CONNECT_TO.

The node runs twice per backend: as `make run` starts it (it also processes what it stores),
and with REDIS_URL set, as in a scaled-out deployment where `flurfunk worker` processes do the
processing and the serve process only receives.

The sender is followed by FOLLOWERS local accounts, so every Create is kept: what staff wait
for is the post in their home timeline, not the inbox row. A status counts as *visible* once
its row is committed (its feed rows commit in the same transaction, so the home timeline and
the account's statuses show it from then on; one follower's home timeline is asked at the
end to make sure). *Backlog* is the time from the last answer until the last status is
visible.
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
from federation.httpsig_base import SignatureError
from federation.httpsig_verify import body_digest_matches, check_freshness, parse, verify
from federation.keys import load_public_key
from models.account import Account
from models.db import Database
from models.federation import InboxActivity
from models.ids import new_id
from models.relationship import Follow
from models.status import Status
from tests.federation_kit import FedNode
from tests.kit import User, free_port

NODE_HOST = "hq.flurfunk.test"
FLOOR_KEY_ENV = "FLURFUNK_BENCH_FLOOR_PUBLIC_KEY"
ROOT = Path(__file__).resolve().parent.parent
WARM_UP = 300
DEADLINE = 240.0  # seconds any one blast may take before the bench gives up
DRAIN_LIMIT = 120.0  # seconds to wait for the node to make what it stored visible
FOLLOWERS = 5  # local accounts who follow the sender
VISIBLE_POLL = 0.05  # seconds between two counts of the visible statuses


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
    visible: int | None = None  # statuses the blast made visible (None: not in this process)
    visible_seconds: float = 0.0  # from the first request until the last one was visible
    newest_uri: str = ""  # the author's newest status, as the database has it
    home_checked: bool = False  # a follower's home timeline showed the last status

    @property
    def rate(self) -> float:
        return self.statuses[202] / self.seconds

    @property
    def visible_rate(self) -> float:
        return (self.visible or 0) / self.visible_seconds if self.visible_seconds else 0.0

    @property
    def backlog(self) -> float:
        """Seconds from the last answer until the last status was visible."""
        return max(0.0, self.visible_seconds - self.seconds)


@dataclass
class IngestResult:
    backend: str
    sent: int
    connections: int
    floor_rate: float
    floor_statuses: Counter[int]
    runs: list[NodeRun]
    load: float


async def _count_stored(db: Database) -> int:
    async with db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(InboxActivity)) or 0)


async def _count_visible(db: Database, author_id: int) -> int:
    async with db.read() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(Status).where(Status.account_id == author_id)
            )
            or 0
        )


async def _until_visible(
    db: Database, author_id: int, wanted: int, started: float, limit: float
) -> tuple[int, float]:
    """Wait (at most `limit` seconds) until `wanted` statuses of the author are visible;
    (statuses visible, seconds since `started` when the last of them was seen)."""
    deadline = time.perf_counter() + limit
    while True:
        seen = await _count_visible(db, author_id)
        moment = time.perf_counter()
        if seen >= wanted or moment >= deadline:
            return seen, moment - started
        await asyncio.sleep(VISIBLE_POLL)


async def _follow_sender(db: Database, sender_uri: str, follower_ids: list[int]) -> int:
    """Make the local accounts follow the sender (rows as an accepted Follow leaves them);
    returns the sender's account id."""
    async with db.write() as session:
        sender = await session.scalar(select(Account.id).where(Account.uri == sender_uri))
        if sender is None:
            raise RuntimeError("the node did not store the sender's actor")
        for follower in follower_ids:
            session.add(Follow(id=new_id(), account_id=follower, target_account_id=sender))
    return int(sender)


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
    # Signed before the clock starts, and again for every run once its node is up: the node
    # rejects Dates older than five minutes, and a busy machine starts a node slowly.
    _, requests = _signed(remote, node, f"{backend}-floor", activities)
    floor_statuses, floor_seconds = run_async(lambda: blast(floor.port, requests, connections))
    runs = [
        _node_run(
            node,
            url,
            remote.actor_uri,
            lambda: _signed(remote, node, f"{backend}-a", activities),
            connections,
            "processing in the same process",
        )
    ]
    if redis is not None:
        node.extra_env["FLURFUNK_REDIS_URL"] = redis.url
        runs.append(
            _node_run(
                node,
                url,
                remote.actor_uri,
                lambda: _signed(remote, node, f"{backend}-b", activities),
                connections,
                "with REDIS_URL (scale-out)",
            )
        )
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
    sender_uri: str,
    sign: Callable[[], tuple[list[bytes], list[bytes]]],
    connections: int,
    mode: str,
) -> NodeRun:
    processing = "FLURFUNK_REDIS_URL" not in node.extra_env

    async def measure(followers: list[User], warm: list[bytes], requests: list[bytes]) -> NodeRun:
        db = Database(url)
        try:
            # The first request makes the node fetch the sender's key (and actor).
            first, _ = await blast(node.port, warm[:1], 1)
            if first[202] != 1:
                raise RuntimeError(
                    f"the node refused an activity: {dict(first)}\n{node.log_tail()}"
                )
            sender = await _follow_sender(db, sender_uri, [int(u.id) for u in followers])
            await blast(node.port, warm[1:], connections)
            before = await _count_stored(db)
            if processing:
                await _until_visible(db, sender, before - 1, time.perf_counter(), DRAIN_LIMIT)
            visible_before = await _count_visible(db, sender)
            started = time.perf_counter()
            statuses, seconds = await blast(node.port, requests, connections)
            run = NodeRun(mode, statuses, seconds, await _count_stored(db) - before)
            if processing:
                seen, run.visible_seconds = await _until_visible(
                    db, sender, visible_before + run.stored, started, DRAIN_LIMIT
                )
                run.visible = seen - visible_before
                async with db.read() as session:
                    run.newest_uri = str(
                        await session.scalar(
                            select(Status.uri)
                            .where(Status.account_id == sender)
                            .order_by(Status.id.desc())
                            .limit(1)
                        )
                    )
            return run
        finally:
            await db.dispose()

    node.start()
    try:
        followers = [node.create_user("reader") for _ in range(FOLLOWERS)]
        for user in followers:
            user.id = node.api(user, "GET", "/api/v1/accounts/verify_credentials").json()["id"]
        warm, requests = sign()
        result: NodeRun = run_async(lambda: measure(followers, warm, requests))
        if processing and result.visible == result.stored:
            home = node.api(followers[0], "GET", "/api/v1/timelines/home?limit=1").json()
            result.home_checked = bool(home) and home[0]["uri"] == result.newest_uri
    finally:
        node.stop()
    return result


def report(results: list[IngestResult], skipped: list[str]) -> list[str]:
    lines = [
        "| backend | serve process | accepted (202) and stored / s | floor: verify + parse / s "
        "| accepted / floor | visible / s | visible / floor | backlog after the load, s "
        "| stored / sent | load before |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for run in r.runs:
            visible, visible_ratio, backlog = "— (not in this process)", "—", "—"
            if run.visible is not None:
                visible = f"{run.visible_rate:,.0f}"
                if run.visible < run.stored:
                    visible += f" ({run.visible:,} of {run.stored:,} within {DRAIN_LIMIT:.0f} s)"
                elif not run.home_checked:
                    visible += " (home timeline did NOT show the newest)"
                visible_ratio = f"{run.visible_rate / r.floor_rate:.2f}" if r.floor_rate else "—"
                backlog = f"{run.backlog:.1f}"
            ratio = run.rate / r.floor_rate if r.floor_rate else 0.0
            lines.append(
                f"| {r.backend} | {run.mode} | {run.rate:,.0f} | {r.floor_rate:,.0f} "
                f"| {ratio:.2f} | {visible} | {visible_ratio} | {backlog} "
                f"| {run.stored:,} / {r.sent:,} | {r.load:.1f} |"
            )
            odd = {k: v for k, v in run.statuses.items() if k != 202}
            if odd:
                lines.append(f"| {r.backend} | {run.mode}: answers other than 202: {odd} |")
        if r.floor_statuses[202] != r.sent:
            lines.append(f"| {r.backend} | floor answers: {dict(r.floor_statuses)} |")
    lines += [f"**{reason}**" for reason in skipped]
    return lines
