"""Delivery: signed POSTs per second by one DeliveryWorker, from pending rows to `done`.

The worker runs in this process against a fresh database holding one local account (with
its key), one Create activity and N pending delivery rows spread over a few inboxes on a few
sink hosts. The hosts are routed by CONNECT_TO to a sink on loopback — a raw asyncio HTTP/1.1
server in a process of its own that answers 202 at once.

Next to it, measured in the same run: the floor, the same number of POSTs signed with the
same cached key through the same FederationClient (same per-host pools), without the
database; and, for reference, a plain httpx.AsyncClient doing the same.
"""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import httpx
import orjson
from sqlalchemy import func, insert, select

from bench.ingest import ROOT, _wait_for_port, run_async
from federation.allowlist import Allowlist
from federation.client import FederationClient
from federation.httpsig_sign import sign_request
from federation.keys import load_private_key
from models.account import Account
from models.base import utcnow
from models.db import Database
from models.federation import Delivery, OutboxActivity
from models.ids import new_id
from models.migrate import upgrade
from models.settings import Settings
from outbox.accounts import create_local_account
from outbox.render import key_id
from outbox.signing import identity
from outbox.worker import CONTENT_TYPE, DeliveryWorker
from tests.kit import free_port

PUBLIC_URL = "http://hq.flurfunk.test"
SINK_HOSTS = ("sales.flurfunk.test", "dev.flurfunk.test", "ops.flurfunk.test")
INBOXES_PER_HOST = 4
DEADLINE = 300.0  # seconds the worker may take before the bench gives up
ANSWER = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"


# --- the sink --------------------------------------------------------------------------------


class _SinkProtocol(asyncio.Protocol):
    """Reads requests (head + Content-Length body) and answers each with 202 at once."""

    def __init__(self) -> None:
        self.buffer = b""
        self.body_left: int | None = None
        self.transport: asyncio.WriteTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.WriteTransport, transport)  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if self.body_left is None:
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = self.buffer[:end].lower()
                self.buffer = self.buffer[end + 4 :]
                self.body_left = 0
                at = head.find(b"\r\ncontent-length:")
                if at >= 0:
                    line_end = head.find(b"\r\n", at + 2)
                    self.body_left = int(head[at + 17 : line_end if line_end > 0 else None])
            if len(self.buffer) < self.body_left:
                return
            self.buffer = self.buffer[self.body_left :]
            self.body_left = None
            assert self.transport is not None
            self.transport.write(ANSWER)


async def _serve_sink(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_SinkProtocol, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


class Sink:
    """The sink in a process of its own."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.delivery", "--sink", str(self.port)], cwd=ROOT
        )
        _wait_for_port(self.port, self.process)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# --- seeding ---------------------------------------------------------------------------------


def inbox_urls() -> list[str]:
    return [
        f"http://{host}/users/u{n}/inbox" if n else f"http://{host}/inbox"
        for host in SINK_HOSTS
        for n in range(INBOXES_PER_HOST)
    ]


def activity_document(actor_uri: str) -> dict[str, object]:
    note = actor_uri + "/statuses/1"
    text = "<p>" + "Delivery benchmark post with a realistic amount of text. " * 20 + "</p>"
    return {
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": note + "/activity",
        "type": "Create",
        "actor": actor_uri,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "cc": [actor_uri + "/followers"],
        "object": {
            "id": note,
            "type": "Note",
            "attributedTo": actor_uri,
            "content": text,
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "cc": [actor_uri + "/followers"],
        },
    }


async def seed(db: Database, settings: Settings, count: int) -> Account:
    """One account, one activity, `count` pending deliveries spread over the sink inboxes."""
    async with db.write() as session:
        account = await create_local_account(
            session, settings, username="sender", password_hash="x"
        )
        activity = OutboxActivity(
            uri=f"{account.uri}/statuses/1/activity",
            account_id=account.id,
            type="Create",
            payload=orjson.dumps(activity_document(account.uri or "")).decode(),
        )
        session.add(activity)
        await session.flush()
        activity_id = activity.id
    urls = inbox_urls()
    now = utcnow()
    for start in range(0, count, 5000):
        async with db.write() as session:
            await session.execute(
                insert(Delivery),
                [
                    {
                        "id": new_id(),
                        "activity_id": activity_id,
                        "inbox_url": urls[n % len(urls)],
                        "host": urls[n % len(urls)].split("/")[2],
                        "state": "pending",
                        "attempts": 0,
                        "next_attempt_at": now,
                    }
                    for n in range(start, min(count, start + 5000))
                ],
            )
    return account


# --- the measurements ------------------------------------------------------------------------


def route(sink: Sink) -> dict[str, str]:
    return {host: f"127.0.0.1:{sink.port}" for host in SINK_HOSTS}


async def worker_rate(db: Database, settings: Settings, sink: Sink, count: int) -> float:
    """Deliveries per second: from the worker's start until the last row is done."""
    allowlist = Allowlist(SINK_HOSTS)
    client = FederationClient(lambda: allowlist, connect_to=route(sink))
    worker = DeliveryWorker(db, client, settings)
    stop = asyncio.Event()
    started = utcnow()
    task = asyncio.create_task(worker.run(stop))
    try:
        async with asyncio.timeout(DEADLINE):
            while True:  # the rows are the truth: poll them
                if not await _pending(db):
                    break
                await asyncio.sleep(0.1)
    finally:
        stop.set()
        await task
        await client.aclose()
    async with db.read() as session:
        done, last = (
            await session.execute(
                select(func.count(), func.max(Delivery.done_at)).where(
                    Delivery.state == "done", Delivery.last_status == 202
                )
            )
        ).one()
    if done != count or last is None:
        raise RuntimeError(f"only {done} of {count} deliveries are done")
    return float(count / (last - started).total_seconds())


async def _pending(db: Database) -> int:
    async with db.read() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(Delivery).where(Delivery.state != "done")
            )
            or 0
        )


async def floor_rate(
    sink: Sink, account: Account, settings: Settings, count: int, concurrency: int
) -> float:
    """Signed POSTs per second through the same client, without the database."""
    allowlist = Allowlist(SINK_HOSTS)
    client = FederationClient(lambda: allowlist, connect_to=route(sink))
    sign = identity(key_id(settings, account), account.private_key_pem or "").signer()
    payload = orjson.dumps(activity_document(account.uri or ""))
    urls = inbox_urls()
    slots = asyncio.Semaphore(concurrency)

    async def post(n: int) -> None:
        async with slots:
            fetched = await client.request(
                "POST",
                urls[n % len(urls)],
                content=payload,
                sign=sign,
                headers={"content-type": CONTENT_TYPE, "accept": "application/json"},
            )
            if fetched.status != 202:
                raise RuntimeError(f"the sink answered {fetched.status}")

    try:
        started = time.perf_counter()
        async with asyncio.timeout(DEADLINE):
            await asyncio.gather(*(post(n) for n in range(count)))
        return count / (time.perf_counter() - started)
    finally:
        await client.aclose()


async def plain_httpx_rate(
    sink: Sink, account: Account, settings: Settings, count: int, concurrency: int
) -> float:
    """The same signed POSTs through one plain httpx.AsyncClient (the default transport)."""
    private_key = load_private_key(account.private_key_pem or "")
    signer_id = key_id(settings, account)
    payload = orjson.dumps(activity_document(account.uri or ""))
    urls = inbox_urls()
    slots = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30, trust_env=False) as client:

        async def post(n: int) -> None:
            url = urls[n % len(urls)]
            async with slots:
                headers = sign_request(
                    "POST", url, {"content-type": CONTENT_TYPE}, signer_id, private_key, payload
                )
                target = f"http://127.0.0.1:{sink.port}/" + url.split("/", 3)[3]
                answer = await client.post(target, content=payload, headers=headers)
                if answer.status_code != 202:
                    raise RuntimeError(f"the sink answered {answer.status_code}")

        started = time.perf_counter()
        async with asyncio.timeout(DEADLINE):
            await asyncio.gather(*(post(n) for n in range(count)))
        return count / (time.perf_counter() - started)


@dataclass
class DeliveryResult:
    backend: str
    count: int
    worker_rate: float
    floor_rate: float
    plain_rate: float
    plain_count: int
    concurrency: int
    load: float

    @property
    def ratio(self) -> float:
        return self.worker_rate / self.floor_rate if self.floor_rate else 0.0


def delivery_bench(
    backend: str, url: str, work: Path, sink: Sink, *, count: int, plain_count: int
) -> DeliveryResult:
    upgrade(url)
    settings = Settings(public_url=PUBLIC_URL, database_url=url, data_dir=work)
    concurrency = 64  # DeliveryWorker's default

    async def measure() -> DeliveryResult:
        db = Database(url)
        try:
            account = await seed(db, settings, count)
            # As a serve process does once it has started (web.runtime): long-lived objects
            # out of the collector's full passes.
            gc.collect()
            gc.freeze()
            load = os.getloadavg()[0]
            floor = await floor_rate(sink, account, settings, count, concurrency)
            rate = await worker_rate(db, settings, sink, count)
            plain = await plain_httpx_rate(sink, account, settings, plain_count, concurrency)
        finally:
            await db.dispose()
        return DeliveryResult(backend, count, rate, floor, plain, plain_count, concurrency, load)

    result: DeliveryResult = run_async(measure)
    return result


def report(results: list[DeliveryResult], skipped: list[str]) -> list[str]:
    lines = [
        "| backend | worker: deliveries / s | floor: signed POSTs / s (no database) "
        "| worker / floor | plain httpx.AsyncClient: signed POSTs / s | load before |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.backend} | {r.worker_rate:,.0f} | {r.floor_rate:,.0f} | {r.ratio:.2f} "
            f"| {r.plain_rate:,.0f} ({r.plain_count:,} POSTs) | {r.load:.1f} |"
        )
    lines += [f"**{reason}**" for reason in skipped]
    return lines


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--sink":
        try:
            import uvloop

            uvloop.run(_serve_sink(int(sys.argv[2])))
        except ImportError:
            asyncio.run(_serve_sink(int(sys.argv[2])))
    else:
        sys.exit("usage: python -m bench.delivery --sink PORT (make bench runs the benchmark)")
