"""Prometheus metrics: request latency, delivery outcomes and queue depth per peer host, inbox
processing lag, open streams.

Two ways to scrape them, both off by default:
- `METRICS_LISTEN=127.0.0.1:9100`: a listener of its own, never behind the public proxy
  (`WORKER_METRICS_LISTEN` for `flurfunk worker`, which has no web listener);
- `METRICS_TOKEN=…`: `GET /metrics` on the main listener with `Authorization: Bearer …`, for
  setups where only the web port is reachable (one Kubernetes Service port).

Counters and histograms live in the process that observes them. With `serve --workers N`
the processes share a directory of memory-mapped files (prometheus-client's multiprocess
mode), so whichever process answers a scrape reports the sum over all of them. Queue depth
and inbox lag are read from the database at scrape time: rows are the truth, in every
process alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import hmac
import logging
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from models.base import utcnow
from models.db import Database
from models.federation import Delivery, InboxActivity
from web.api.errors import not_found
from web.node import node_of

log = logging.getLogger("flurfunk.metrics")
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
SCRAPE_TIMEOUT = 2.0  # seconds for the database queries of one scrape

LATENCY = Histogram(
    "flurfunk_http_request_duration_seconds",
    "Time from request to the end of the response, by route template, method and status class",
    ["route", "method", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
DELIVERIES = Counter(
    "flurfunk_deliveries",
    "Delivery attempts by peer host and outcome: delivered, retry (will be tried again), "
    "failed (given up)",
    ["host", "outcome"],
)
OPEN_STREAMS = Gauge(
    "flurfunk_open_streams",
    "Streaming connections open now, by transport (sse, websocket)",
    ["transport"],
    multiprocess_mode="livesum",
)

for _transport in ("sse", "websocket"):
    OPEN_STREAMS.labels(_transport)  # present from the start, at 0: alerts need the series

_latency_children: dict[tuple[str, str, str], Histogram] = {}


# --- what other code records ---------------------------------------------------------------


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    key = (route, method, f"{status // 100}xx")
    child = _latency_children.get(key)
    if child is None:  # `.labels()` takes a lock and builds a tuple: do it once per series
        child = _latency_children[key] = LATENCY.labels(*key)
    child.observe(seconds)


def delivery_outcome(host: str, outcome: str) -> None:
    """`outcome`: delivered, retry or failed (see outbox.worker.DeliveryWorker)."""
    DELIVERIES.labels(host, outcome).inc()


def stream_opened(transport: str) -> None:
    """A streaming client connected; `transport` is "sse" or "websocket"."""
    OPEN_STREAMS.labels(transport).inc()


def stream_closed(transport: str) -> None:
    OPEN_STREAMS.labels(transport).dec()


@contextlib.contextmanager
def open_stream(transport: str) -> Iterator[None]:
    """`with open_stream("sse"):` around the life of one stream."""
    stream_opened(transport)
    try:
        yield
    finally:
        stream_closed(transport)


# --- what is read from the database at scrape time -----------------------------------------


@dataclass
class QueueSnapshot:
    database_up: bool = False
    pending_by_host: list[tuple[str, int]] = field(default_factory=list)
    inbox_pending: int = 0
    oldest_unprocessed: datetime | None = None
    taken_at: datetime = field(default_factory=utcnow)


async def queue_snapshot(db: Database) -> QueueSnapshot:
    """Two small aggregate queries over the pending rows only (the `due` indexes)."""
    snapshot = QueueSnapshot()
    try:
        async with asyncio.timeout(SCRAPE_TIMEOUT), db.read() as session:
            rows = await session.execute(
                select(Delivery.host, func.count())
                .where(Delivery.state == "pending")
                .group_by(Delivery.host)
            )
            snapshot.pending_by_host = [(host, int(count)) for host, count in rows.all()]
            count, oldest = (
                await session.execute(
                    select(func.count(), func.min(InboxActivity.received_at)).where(
                        InboxActivity.processed_at.is_(None), InboxActivity.failed.is_(False)
                    )
                )
            ).one()
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        log.warning("metrics: the database did not answer: %s", exc)
        return snapshot
    snapshot.database_up = True
    snapshot.inbox_pending = int(count or 0)
    snapshot.oldest_unprocessed = oldest
    return snapshot


class QueueCollector:
    """Exposes one QueueSnapshot; built per scrape."""

    def __init__(self, snapshot: QueueSnapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterable[Metric]:
        s = self.snapshot
        yield GaugeMetricFamily(
            "flurfunk_database_up",
            "1 when the database answered this scrape's queries",
            value=1 if s.database_up else 0,
        )
        if not s.database_up:
            return  # no numbers rather than wrong ones
        depth = GaugeMetricFamily(
            "flurfunk_delivery_queue_depth",
            "Deliveries not yet done (due now or waiting for a retry), by peer host",
            labels=["host"],
        )
        for host, count in s.pending_by_host:
            depth.add_metric([host], count)
        yield depth
        yield GaugeMetricFamily(
            "flurfunk_inbox_queue_depth",
            "Received activities not yet processed (failed ones excluded)",
            value=s.inbox_pending,
        )
        lag = 0.0
        if s.oldest_unprocessed is not None:
            lag = max(0.0, (s.taken_at - s.oldest_unprocessed).total_seconds())
        yield GaugeMetricFamily(
            "flurfunk_inbox_lag_seconds",
            "Age of the oldest received activity not yet processed; 0 when none waits",
            value=lag,
        )


# --- exposition ----------------------------------------------------------------------------


def _forget_dead_processes(directory: str) -> None:
    """A web process that died (and was replaced) no longer holds streams open."""
    for path in glob.glob(os.path.join(directory, "gauge_live*_*.db")):
        pid = int(path.rsplit("_", 1)[1].removesuffix(".db"))
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]
        except PermissionError:
            continue  # alive, owned by someone else


def _process_metrics() -> bytes:
    directory = os.environ.get(MULTIPROCESS_ENV)
    if not directory:
        return generate_latest(REGISTRY)
    _forget_dead_processes(directory)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


async def exposition(db: Database) -> bytes:
    """The text format, process metrics first, then what the database says now."""
    snapshot = await queue_snapshot(db)
    queues = CollectorRegistry(auto_describe=False)
    queues.register(QueueCollector(snapshot))
    return _process_metrics() + generate_latest(queues)


@contextlib.contextmanager
def shared_between_processes(processes: int) -> Iterator[None]:
    """For `serve --workers N`: a fresh multiprocess directory, set before uvicorn spawns the
    workers (prometheus-client reads it when it is first imported) and removed afterwards."""
    if processes <= 1:
        yield
        return
    directory = tempfile.mkdtemp(prefix="flurfunk-metrics-")
    previous = os.environ.get(MULTIPROCESS_ENV)
    os.environ[MULTIPROCESS_ENV] = directory
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(MULTIPROCESS_ENV, None)
        else:
            os.environ[MULTIPROCESS_ENV] = previous
        shutil.rmtree(directory, ignore_errors=True)


# --- serving -------------------------------------------------------------------------------


async def metrics_page(request: Request) -> Response:
    """`GET /metrics` on the main listener, only with METRICS_TOKEN set and presented."""
    node = node_of(request)
    token = node.settings.metrics_token
    if not token:
        raise not_found()
    presented = request.headers.get("authorization", "")
    if not hmac.compare_digest(presented.encode(), f"Bearer {token}".encode()):
        return JSONResponse(
            {"error": "The access token is invalid"},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    return Response(await exposition(node.db), media_type=CONTENT_TYPE_PLAIN_0_0_4)


routes = [Route("/metrics", metrics_page)]


def _reply(status: str, body: bytes, content_type: str = "text/plain; charset=utf-8") -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


async def _answer_scrape(
    db: Database, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        async with asyncio.timeout(10):
            head = await reader.readuntil(b"\r\n\r\n")
            method, _, rest = head.decode("latin-1").partition(" ")
            path = rest.partition(" ")[0].partition("?")[0]
            if method not in ("GET", "HEAD"):
                answer = _reply("405 Method Not Allowed", b"GET /metrics\n")
            elif path == "/metrics":
                body = await exposition(db)
                answer = _reply(
                    "200 OK", b"" if method == "HEAD" else body, CONTENT_TYPE_PLAIN_0_0_4
                )
            elif path == "/livez":  # answered by the process's event loop: it is not stuck
                answer = _reply("200 OK", b"" if method == "HEAD" else b"OK")
            else:
                answer = _reply("404 Not Found", b"metrics are at /metrics\n")
            writer.write(answer)
            await writer.drain()
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, TimeoutError):
        pass  # a scraper that went away or sent garbage gets nothing
    finally:
        writer.close()


@contextlib.asynccontextmanager
async def listening(address: str, db: Database) -> AsyncIterator[None]:
    """Serve `/metrics` on `address` (host:port) while the block runs; "" serves nothing.
    `/livez` there is the liveness probe of a worker, which has no other listener.

    With several web processes each binds the port (SO_REUSEPORT) and any of them answers
    with the sum over all; a single process binds it alone, so a clash with another program
    fails loudly.
    """
    if not address:
        yield
        return
    host, _, port = address.rpartition(":")
    server = await asyncio.start_server(
        lambda r, w: _answer_scrape(db, r, w),
        host.strip("[]"),
        int(port),
        reuse_port=bool(os.environ.get(MULTIPROCESS_ENV)),
    )
    log.info("metrics on http://%s/metrics", address)
    try:
        yield
    finally:
        server.close()
        await server.wait_closed()
