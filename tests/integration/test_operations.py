"""Operations: what an operator's probes, Prometheus and log collector see of a real node.

One node (`hq`) per backend federates with two fake nodes (`sales`, and `dev`, which goes
away during the delivery test); it serves metrics on a listener of its own and, with a
token, on `/metrics`, and prints its logs at info level to a pipe, so as JSON lines.
Probes and metrics across several processes: test_operations_processes.py.
"""

from __future__ import annotations

import contextlib
import math
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import BACKENDS
from tests.fakenode import FakeActor, FakeNode, fake_node, wait_for
from tests.kit import (
    RunningNode,
    User,
    free_port,
    postgres_available,
    postgres_database,
    require_service,
)
from tests.prometheus_text import Samples, parse, series, value

TOKEN = "metrics-" + secrets.token_urlsafe(16)


@dataclass
class Ops:
    hq: RunningNode
    public_url: str
    metrics_address: str
    sales: FakeNode
    dev: FakeNode
    dev_stack: contextlib.ExitStack  # closing it takes dev off the network

    def scrape(self) -> Samples:
        answer = httpx.get(f"http://{self.metrics_address}/metrics", timeout=10)
        assert answer.status_code == 200, answer.text
        return parse(answer.text)

    def send(self, home: FakeNode, actor: FakeActor, activity: dict[str, Any]) -> None:
        answer = home.post(actor, self.hq, self.public_url, activity)
        assert answer.status_code == 202, answer.text

    def actor_uri(self, user: User) -> str:
        return f"{self.public_url}/users/{user.name}"


@pytest.fixture(scope="module", params=BACKENDS)
def ops(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ops]:
    backend: str = request.param
    if backend == "postgres":
        available, reason = postgres_available()
        require_service("PostgreSQL", available, reason)
    data_dir = tmp_path_factory.mktemp(f"ops-{backend}")
    with contextlib.ExitStack() as stack:
        sales = stack.enter_context(fake_node("sales.flurfunk.test"))
        dev_stack = stack.enter_context(contextlib.ExitStack())
        dev = dev_stack.enter_context(fake_node("dev.flurfunk.test"))
        if backend == "postgres":
            url = stack.enter_context(postgres_database())
        else:
            url = f"sqlite+aiosqlite:///{data_dir / 'flurfunk.db'}"
        port = free_port()
        metrics_address = f"127.0.0.1:{free_port()}"
        public_url = f"http://hq.flurfunk.test:{port}"
        hq = RunningNode(
            data_dir=data_dir,
            database_url=url,
            port=port,
            log_level="info",
            extra_env={
                "FLURFUNK_PUBLIC_URL": public_url,
                "FLURFUNK_ALLOWLIST": "sales.flurfunk.test,dev.flurfunk.test",
                "FLURFUNK_CONNECT_TO": f"{sales.connect_to},{dev.connect_to}",
                "FLURFUNK_METRICS_TOKEN": TOKEN,
                "FLURFUNK_METRICS_LISTEN": metrics_address,
                "FLURFUNK_LOG_FORMAT": "auto",  # stdout is a pipe: JSON
            },
        )
        hq.start()
        stack.callback(hq.stop)
        yield Ops(hq, public_url, metrics_address, sales, dev, dev_stack)


def followed_from(ops: Ops, home: FakeNode, user: User) -> FakeActor:
    """An actor on `home` follows `user`; hq's Accept reaches `home`."""
    actor = home.add_actor("fan")
    follow = actor.activity("Follow", ops.actor_uri(user))
    ops.send(home, actor, follow)
    home.wait("Accept", follow["id"], f"{user.name} to accept {actor.name}")
    return actor


# --- probes --------------------------------------------------------------------------------


def test_probes_answer_ok(ops: Ops) -> None:
    for path in ("/livez", "/readyz"):
        answer = ops.hq.api(None, "GET", path)
        assert (answer.status_code, answer.text) == (200, "OK")


# --- metrics: where and for whom ----------------------------------------------------------


def test_metrics_path_needs_the_token(ops: Ops) -> None:
    url = ops.hq.url + "/metrics"
    missing = httpx.get(url, timeout=10)
    assert missing.status_code == 401
    assert missing.json() == {"error": "The access token is invalid"}
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert httpx.get(url, headers={"Authorization": "Bearer nope"}, timeout=10).status_code == 401
    answer = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert value(parse(answer.text), "flurfunk_database_up") == 1


def test_no_metrics_path_without_a_token(node: RunningNode) -> None:
    answer = node.api(None, "GET", "/metrics")
    assert answer.status_code == 404
    assert answer.json() == {"error": "Record not found"}


def test_metrics_listener_serves_only_metrics(ops: Ops) -> None:
    base = f"http://{ops.metrics_address}"
    assert httpx.get(base + "/", timeout=10).status_code == 404
    assert httpx.post(base + "/metrics", timeout=10).status_code == 405
    samples = ops.scrape()
    assert value(samples, "flurfunk_database_up") == 1
    for transport in ("sse", "websocket"):  # present before any stream opened
        assert value(samples, "flurfunk_open_streams", transport=transport) is not None


# --- metrics: what they say ----------------------------------------------------------------


def test_request_latency_by_route_template(ops: Ops) -> None:
    alice = ops.hq.create_user("alice")
    posted = ops.hq.api(alice, "POST", "/api/v1/statuses", data={"status": "metered"})
    status_id = posted.json()["id"]
    lost = "nowhere-" + secrets.token_hex(4)
    shown = {"route": "/api/v1/statuses/{id}", "method": "GET", "status": "2xx"}
    missing = {**shown, "status": "4xx"}
    before = ops.scrape()

    for _ in range(3):
        assert ops.hq.api(alice, "GET", f"/api/v1/statuses/{status_id}").status_code == 200
    assert ops.hq.api(alice, "GET", "/api/v1/statuses/1").status_code == 404
    assert ops.hq.api(None, "GET", f"/{lost}").status_code == 404
    after = ops.scrape()

    name = "flurfunk_http_request_duration_seconds"

    def grew(labels: dict[str, str]) -> float:
        return (value(after, name + "_count", **labels) or 0) - (
            value(before, name + "_count", **labels) or 0
        )

    assert grew(shown) == 3
    assert grew(missing) == 1
    assert grew({"route": "unmatched", "method": "GET", "status": "4xx"}) == 1
    assert (value(after, name + "_sum", **shown) or 0) > 0
    buckets = sorted(
        (float(labels["le"]), value(after, name + "_bucket", **labels) or 0)
        for labels in series(after, name + "_bucket")
        if {k: v for k, v in labels.items() if k != "le"} == shown
    )
    counts = [count for _, count in buckets]
    assert counts == sorted(counts)  # cumulative
    assert buckets[-1] == (math.inf, value(after, name + "_count", **shown))
    # Labels are route templates: no id, no stray path becomes a series of its own.
    routes = {labels["route"] for labels in series(after, name + "_count")}
    assert not [r for r in routes if status_id in r or lost in r]


def test_delivery_outcomes_and_queue_depth_per_peer_host(ops: Ops) -> None:
    carol = ops.hq.create_user("carol")
    followed_from(ops, ops.sales, carol)
    followed_from(ops, ops.dev, carol)
    sales_host, dev_host = ops.sales.domain, ops.dev.domain
    delivered = wait_for(
        lambda: value(
            ops.scrape(), "flurfunk_deliveries_total", host=sales_host, outcome="delivered"
        ),
        "the Accept to sales to be counted as delivered",
    )
    assert delivered >= 1

    ops.dev_stack.close()  # dev goes away: what carol posts now cannot reach it
    posted = ops.hq.api(carol, "POST", "/api/v1/statuses", data={"status": "dev is down"})
    assert posted.status_code == 200
    ops.sales.wait("Create", ops.public_url + f"/users/{carol.name}/statuses/{posted.json()['id']}")

    def dev_waits() -> Samples | None:
        samples = ops.scrape()
        retried = value(samples, "flurfunk_deliveries_total", host=dev_host, outcome="retry")
        waiting = value(samples, "flurfunk_delivery_queue_depth", host=dev_host)
        return samples if retried and waiting else None

    samples = wait_for(dev_waits, "a failed attempt to dev and a delivery waiting for it")
    assert value(samples, "flurfunk_delivery_queue_depth", host=dev_host) == 1
    assert (value(samples, "flurfunk_deliveries_total", host=dev_host, outcome="retry") or 0) >= 1
    assert (
        value(samples, "flurfunk_deliveries_total", host=sales_host, outcome="delivered") or 0
    ) >= 2
    assert value(samples, "flurfunk_delivery_queue_depth", host=sales_host) is None


def test_inbox_lag_returns_to_zero_once_processed(ops: Ops) -> None:
    dora = ops.hq.create_user("dora")
    writer = ops.sales.add_actor("writer")
    note = ops.sales.publish_note(
        writer,
        f"hello @{dora.name}",
        to=[ops.actor_uri(dora)],
        cc=[],
        tag=[{"type": "Mention", "href": ops.actor_uri(dora)}],
    )
    ops.send(ops.sales, writer, writer.activity("Create", note, to=note["to"], cc=[]))
    wait_for(
        lambda: ops.hq.api(dora, "GET", "/api/v1/notifications").json(),
        "the mention to be processed into a notification",
    )

    def nothing_waits() -> Samples | None:
        samples = ops.scrape()
        depth = value(samples, "flurfunk_inbox_queue_depth")
        return samples if depth == 0 and value(samples, "flurfunk_inbox_lag_seconds") == 0 else None

    samples = wait_for(nothing_waits, "the inbox gauges to show nothing waiting")
    assert value(samples, "flurfunk_database_up") == 1


def test_open_streams_are_counted(ops: Ops) -> None:
    """Needs the streaming endpoints (they call web.metrics.stream_opened/closed)."""
    erin = ops.hq.create_user("erin")
    url = ops.hq.url + "/api/v1/streaming/public"
    baseline = value(ops.scrape(), "flurfunk_open_streams", transport="sse") or 0
    headers = {"Authorization": f"Bearer {erin.token}"}
    with httpx.stream("GET", url, headers=headers, timeout=30) as stream:
        assert stream.status_code == 200, "the SSE streaming endpoint answers"
        wait_for(
            lambda: (
                (value(ops.scrape(), "flurfunk_open_streams", transport="sse") or 0) == baseline + 1
            ),
            "the open SSE stream to be counted",
        )
    wait_for(
        lambda: value(ops.scrape(), "flurfunk_open_streams", transport="sse") == baseline,
        "the closed SSE stream to be counted out",
    )


# --- logs ----------------------------------------------------------------------------------


def log_lines(node: RunningNode) -> list[dict[str, Any]]:
    """Every line the node printed, parsed; the admin line is the one plain-text line."""
    entries = []
    for line in list(node.output):
        if not line.strip() or line.startswith("Admin account:"):
            continue
        entry = orjson.loads(line)  # anything else is a JSON object, or this fails
        assert {"ts", "level", "logger", "message"} <= entry.keys(), line
        entries.append(entry)
    return entries


def lines_of(node: RunningNode, request_id: str, at_least: int = 1) -> list[dict[str, Any]]:
    """The request's log lines, once its access line (written last) is there."""

    def found() -> list[dict[str, Any]] | None:
        entries = [e for e in log_lines(node) if e.get("request_id") == request_id]
        finished = any(e["logger"] == "flurfunk.access" for e in entries)
        return entries if finished and len(entries) >= at_least else None

    return wait_for(found, f"{at_least} log line(s) of request {request_id}")


def test_request_id_is_echoed_and_in_every_log_line(ops: Ops) -> None:
    request_id = "ops-" + secrets.token_hex(8)
    answer = httpx.get(
        ops.hq.url + "/api/v1/instance", headers={"X-Request-Id": request_id}, timeout=10
    )
    assert answer.headers["x-request-id"] == request_id
    (access,) = lines_of(ops.hq, request_id)
    assert access["logger"] == "flurfunk.access"
    assert access["level"] == "info"
    assert (access["method"], access["path"], access["route"], access["status"]) == (
        "GET",
        "/api/v1/instance",
        "/api/v1/instance",
        200,
    )
    assert access["duration_ms"] >= 0


def test_generated_request_ids(ops: Ops) -> None:
    first = ops.hq.api(None, "GET", "/livez").headers["x-request-id"]
    second = ops.hq.api(None, "GET", "/livez").headers["x-request-id"]
    assert first != second
    assert len(first) == 32
    assert int(first, 16) >= 0
    # What a client could use to forge log content is replaced, not echoed.
    for unusable in ("has spaces", "x" * 200, 'quote"d'):
        echoed = httpx.get(ops.hq.url + "/livez", headers={"X-Request-Id": unusable}, timeout=10)
        assert echoed.headers["x-request-id"] != unusable
        assert len(echoed.headers["x-request-id"]) == 32
    lines_of(ops.hq, first)


def test_log_lines_within_a_request_carry_its_id(ops: Ops) -> None:
    """Resolving a missing remote profile logs why, within the search request."""
    frank = ops.hq.create_user("frank")
    request_id = "ops-" + secrets.token_hex(8)
    missing = f"{ops.sales.base}/users/nobody{secrets.token_hex(3)}"
    answer = httpx.get(
        ops.hq.url + "/api/v2/search",
        params={"q": missing, "resolve": "true"},
        headers={"Authorization": f"Bearer {frank.token}", "X-Request-Id": request_id},
        timeout=30,
    )
    assert answer.status_code == 200
    assert answer.headers["x-request-id"] == request_id
    entries = lines_of(ops.hq, request_id, at_least=2)
    loggers = {e["logger"] for e in entries}
    assert "flurfunk.access" in loggers
    assert any(missing in e["message"] for e in entries if e["logger"] != "flurfunk.access")
    # The access line never carries the query string (streaming clients put tokens there).
    access = next(e for e in entries if e["logger"] == "flurfunk.access")
    assert access["path"] == "/api/v2/search"
