"""Operations across processes: readiness when the database goes away, metrics that add up
over the web processes of `serve --workers 2`, and the metrics of `flurfunk worker`."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from pathlib import Path

import asyncpg
import httpx
import orjson
import redis

from tests.fakenode import wait_for
from tests.kit import (
    FLURFUNK,
    PG_ADMIN_URL,
    RunningNode,
    free_port,
    postgres_available,
    postgres_database,
    require_service,
    running_node,
)
from tests.prometheus_text import parse, series, value

TOKEN = "metrics-token-of-this-module"
REDIS_URL = "redis://127.0.0.1:6379/13"  # this file's own Redis database (13-15 are ours)


def test_readyz_is_503_while_the_database_is_gone(tmp_path: Path) -> None:
    """A node whose PostgreSQL database disappears stays alive but is no longer ready."""
    available, reason = postgres_available()
    require_service("PostgreSQL", available, reason)
    with running_node(tmp_path, "postgres", FLURFUNK_METRICS_TOKEN=TOKEN) as node:
        assert node.api(None, "GET", "/readyz").status_code == 200
        name = node.database_url.rsplit("/", 1)[1]
        asyncio.run(drop_database(name))
        answer = node.api(None, "GET", "/readyz")
        assert (answer.status_code, answer.text) == (503, "database unavailable")
        assert node.api(None, "GET", "/livez").status_code == 200
        metrics = httpx.get(
            node.url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
        )
        assert metrics.status_code == 200
        samples = parse(metrics.text)
        assert value(samples, "flurfunk_database_up") == 0
        assert not series(samples, "flurfunk_delivery_queue_depth")  # no numbers, not zeros


def test_readyz_stays_ready_but_degraded_while_redis_is_gone(tmp_path: Path) -> None:
    """Without Redis a web process still serves everything from its database: it must not be
    taken out of the load balancer, but the operator is told."""
    nothing_listens = f"redis://127.0.0.1:{free_port()}/13"
    with running_node(tmp_path, "sqlite", FLURFUNK_REDIS_URL=nothing_listens) as node:
        answer = node.api(None, "GET", "/readyz")
        assert (answer.status_code, answer.text) == (200, "OK, degraded: Redis unavailable")
        assert node.api(None, "GET", "/api/v1/instance").status_code == 200
    fresh_redis(REDIS_URL)
    with running_node(tmp_path / "with-redis", "sqlite", FLURFUNK_REDIS_URL=REDIS_URL) as node:
        answer = node.api(None, "GET", "/readyz")
        assert (answer.status_code, answer.text) == (200, "OK")


async def drop_database(name: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def test_metrics_add_up_over_web_processes(tmp_path: Path) -> None:
    """`serve --workers 2`: any process answers a scrape with the sum over both."""
    available, reason = postgres_available()  # several web processes need it, and Redis
    require_service("PostgreSQL", available, reason)
    fresh_redis(REDIS_URL)
    with postgres_database() as url:
        several_web_processes(tmp_path, url)


def fresh_redis(url: str) -> None:
    try:
        with redis.Redis.from_url(url, socket_connect_timeout=2) as client:
            client.flushdb()
    except (redis.RedisError, OSError) as exc:
        require_service("Redis", False, f"{type(exc).__name__}: {exc}")


def several_web_processes(tmp_path: Path, database_url: str) -> None:
    port, metrics_port = free_port(), free_port()
    node = RunningNode(
        data_dir=tmp_path,
        database_url=database_url,
        port=port,
        extra_env={
            "FLURFUNK_METRICS_LISTEN": f"127.0.0.1:{metrics_port}",
            "FLURFUNK_REDIS_URL": REDIS_URL,
        },
    )
    node.cli("migrate")
    output = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [FLURFUNK, "serve", "--port", str(port), "--workers", "2"],
        env=node.env(),
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    try:
        # /readyz, so that /livez counts only the requests below.
        wait_for(lambda: _answers(node.url + "/readyz"), "both web processes to start", 60)
        wait_for(
            lambda: len(_started_pids(tmp_path / "serve.log")) == 2,
            "two web processes to report their start",
            60,
        )
        requests = 40
        for _ in range(requests):  # a new connection each: the kernel spreads them
            assert httpx.get(node.url + "/livez", timeout=10).status_code == 200
        labels = {"route": "/livez", "method": "GET", "status": "2xx"}
        for _ in range(6):  # whichever process answers, the total is the same
            scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10)
            samples = parse(scraped.text)
            assert (
                value(samples, "flurfunk_http_request_duration_seconds_count", **labels) == requests
            )
            assert value(samples, "flurfunk_open_streams", transport="sse") == 0
    finally:
        process.terminate()
        process.wait(30)
        output.close()


def _answers(url: str) -> bool:
    with contextlib.suppress(httpx.TransportError):
        return httpx.get(url, timeout=1).status_code == 200
    time.sleep(0.1)
    return False


def _started_pids(log: Path) -> set[int]:
    return {
        entry["pid"]
        for line in log.read_text().splitlines()
        if line.startswith("{")
        and (entry := orjson.loads(line))["message"].startswith("Started server process")
    }


def test_worker_serves_its_metrics(tmp_path: Path) -> None:
    """`flurfunk worker` has no web listener: WORKER_METRICS_LISTEN is where it is scraped."""
    available, reason = postgres_available()
    require_service("PostgreSQL", available, reason)
    fresh_redis(REDIS_URL)
    metrics_port = free_port()
    with postgres_database() as url:
        node = RunningNode(
            data_dir=tmp_path,
            database_url=url,
            extra_env={
                "FLURFUNK_REDIS_URL": REDIS_URL,
                "FLURFUNK_WORKER_METRICS_LISTEN": f"127.0.0.1:{metrics_port}",
            },
        )
        node.cli("migrate")
        with (tmp_path / "worker.log").open("w") as output:
            worker = subprocess.Popen(
                [FLURFUNK, "worker"], env=node.env(), stdout=output, stderr=subprocess.STDOUT
            )
            try:
                scraped = wait_for(
                    lambda: _metrics(f"http://127.0.0.1:{metrics_port}/metrics"),
                    "the worker's metrics listener to answer",
                    60,
                )
                # The liveness probe of deploy/ (kubernetes, compose) asks the same listener.
                alive = httpx.get(f"http://127.0.0.1:{metrics_port}/livez", timeout=5)
                assert (alive.status_code, alive.text) == (200, "OK")
            finally:
                worker.terminate()
                worker.wait(30)
    samples = parse(scraped)
    assert value(samples, "flurfunk_database_up") == 1
    assert value(samples, "flurfunk_inbox_queue_depth") == 0


def _metrics(url: str) -> str | None:
    with contextlib.suppress(httpx.TransportError):
        answer = httpx.get(url, timeout=2)
        return answer.text if answer.status_code == 200 else None
    time.sleep(0.2)
    return None
