"""Scaled-out nodes for tests: each node is `flurfunk serve --workers 2` plus one
`flurfunk worker`, on a PostgreSQL database and a Redis database of its own.

Also here: a Redis server of the test's own (to restart it mid-run) and a slow link (a TCP
relay that holds what one node sends another, so that deliveries are in flight long enough to
kill a worker in the middle of a batch).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import redis

from tests.federation_kit import FedNode, Network, Plan, network, wait_for
from tests.kit import FLURFUNK, free_port, require_service

SHARED_REDIS = "redis://127.0.0.1:6379"
WORKER_START = 30.0  # seconds a worker may take to start taking jobs
T = TypeVar("T")


def redis_problem(url: str) -> str:
    """Why the Redis at `url` cannot be used ("" when it can)."""
    try:
        with redis.Redis.from_url(url, socket_connect_timeout=2) as client:
            client.ping()
    except (redis.RedisError, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return ""


def fresh_redis(url: str) -> None:
    """Require the Redis database at `url` (CI: fail, elsewhere: skip) and empty it."""
    problem = redis_problem(url)
    require_service("Redis", not problem, problem)
    with redis.Redis.from_url(url) as client:
        client.flushdb()


# --- a node scaled out ---------------------------------------------------------------------


@dataclass
class ScaledNode(FedNode):
    """`serve --workers 2` and its workers (one to begin with; a test may start more). Worker
    output goes to `worker.log` in DATA_DIR."""

    web_processes: int = 2
    workers: list[subprocess.Popen[str]] = field(default_factory=list)

    def serve_options(self) -> list[str]:
        return ["--workers", str(self.web_processes)]

    @property
    def redis_url(self) -> str:
        return self.extra_env["FLURFUNK_REDIS_URL"]

    @property
    def queue(self) -> str:
        """The node's arq queue in its Redis database (outbox/queue.py names it)."""
        return f"flurfunk:{self.domain}:jobs"

    def start(self) -> None:
        super().start()
        self.start_worker()

    def start_worker(self) -> subprocess.Popen[str]:
        """Start one more worker and wait until workers take jobs (arq's health record)."""
        with contextlib.suppress(redis.RedisError, OSError):
            self._redis(lambda r: r.delete(self.queue + ":health-check"))
        with (self.data_dir / "worker.log").open("a") as log:
            worker = subprocess.Popen(
                [FLURFUNK, "worker", "--log-level", "info"],
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
            )
        self.workers.append(worker)
        deadline = time.monotonic() + WORKER_START
        while not self.worker_connected():
            if worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.host}'s worker did not start:\n{self.worker_tail()}")
            time.sleep(0.1)
        return worker

    def worker_connected(self) -> bool:
        """Whether a worker of this node takes jobs from Redis now (arq's health record)."""
        try:
            return bool(self._redis(lambda r: r.exists(self.queue + ":health-check")))
        except (redis.RedisError, OSError):
            return False

    def jobs_queued(self) -> int:
        return int(self._redis(lambda r: r.zcard(self.queue)))  # type: ignore[arg-type]

    def kill_workers(self) -> None:
        """SIGKILL: workers stop wherever they are, as when their machine loses power."""
        for worker in self.workers:
            worker.send_signal(signal.SIGKILL)
            worker.wait()
        self.workers.clear()

    def stop_workers(self) -> list[int]:
        """SIGTERM, as systemd or Kubernetes stop them; returns their exit statuses."""
        for worker in self.workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        statuses = []
        for worker in self.workers:
            try:
                statuses.append(worker.wait(timeout=30))
            except subprocess.TimeoutExpired:
                worker.kill()
                statuses.append(worker.wait())
        self.workers.clear()
        return statuses

    def stop(self) -> None:
        self.stop_workers()
        super().stop()

    def worker_tail(self, lines: int = 40) -> str:
        path = self.data_dir / "worker.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def _redis(self, command: Callable[[redis.Redis], T]) -> T:
        with redis.Redis.from_url(self.redis_url, socket_connect_timeout=2) as client:
            return command(client)


@contextlib.contextmanager
def scaled_network(
    tmp: Path, plans: Mapping[str, Plan], redis_urls: Mapping[str, str]
) -> Iterator[Network]:
    """Nodes per `plans` on PostgreSQL, each scaled out on its Redis database (emptied)."""
    for url in redis_urls.values():
        fresh_redis(url)
    plans = {
        name: dataclasses.replace(plan, env={**plan.env, "FLURFUNK_REDIS_URL": redis_urls[name]})
        for name, plan in plans.items()
    }
    with network(tmp, "postgres", plans, kind=ScaledNode) as running:
        yield running


def scaled(net: Network, name: str) -> ScaledNode:
    node = net[name]
    assert isinstance(node, ScaledNode)
    return node


# --- a Redis server of the test's own ------------------------------------------------------


class OwnRedis:
    """redis-server on a free loopback port, without persistence: stop it and start it again
    and it comes back empty, as a Redis restart without persistence does."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        require_service("redis-server", binary is not None, "redis-server is not installed")
        assert binary is not None
        options = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"]
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), *options],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: not redis_problem(self.url(0)), "redis-server answering", 10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=10)

    def __enter__(self) -> OwnRedis:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- a slow link between two nodes ---------------------------------------------------------


class SlowLink:
    """A TCP relay on loopback to `upstream`: whatever a client sends is held for `delay`
    seconds before it is passed on (`held` counts what is being held right now). Answers
    come back at once. Route a node's connections for another node here with CONNECT_TO."""

    def __init__(self) -> None:
        self.port = free_port()
        self.upstream = 0
        self.delay = 0.0
        self.held = 0
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._run(),))
        self._ready = threading.Event()

    async def _run(self) -> None:
        server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self._ready.set()
        async with server:
            await self._stop.wait()
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    async def _relay(self, client: asyncio.StreamReader, to_client: asyncio.StreamWriter) -> None:
        try:
            server, to_server = await asyncio.open_connection("127.0.0.1", self.upstream)
        except OSError:
            to_client.close()
            return
        await asyncio.gather(
            self._pipe(client, to_server, slow=True),
            self._pipe(server, to_client, slow=False),
            return_exceptions=True,
        )

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, slow: bool
    ) -> None:
        try:
            while data := await reader.read(1 << 16):
                if slow and self.delay:
                    self.held += 1
                    try:
                        await asyncio.sleep(self.delay)
                    finally:
                        self.held -= 1
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    def __enter__(self) -> SlowLink:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the slow link did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        self._loop.close()
