"""Idle memory of `flurfunk serve` and `flurfunk worker`, installed as an operator installs them.

The processes run from a fresh virtual environment holding only what `pip install .` brings
(the test extras add packages that some libraries import when present, e.g. httpx's CLI).
Each process starts, answers a few requests (the worker: finishes its start-up), then sits idle
for a few seconds before its memory is read from /proc/<pid>/smaps_rollup:
RSS (what the aim is about), PSS and USS (private pages: what a second process really adds).
The floor is a process of the same environment that imports the whole stack the node is built
on (the web server, ORM, drivers, HTTP client, crypto, JSON-LD, queue, image library, ...) and
does nothing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.ingest import LocalRedis
from tests.kit import free_port, postgres_available, postgres_database

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("federation", "inbox", "outbox", "models", "web")
IDLE_SECONDS = 5.0
# What the node is built on, imported in full by the floor process.
STACK = (
    "uvicorn",
    "uvloop",
    "httptools",
    "starlette.applications",
    "sqlalchemy.ext.asyncio",
    "sqlalchemy.orm",
    "asyncpg",
    "aiosqlite",
    "httpx",
    "cryptography.hazmat.primitives.asymmetric.rsa",
    "pyld.jsonld",
    "arq",
    "redis.asyncio",
    "orjson",
    "nh3",
    "PIL.Image",
    "jinja2",
    "markdown_it",
    "argon2",
    "prometheus_client",
    "multipart",
)


@dataclass
class Memory:
    what: str
    rss_mb: float
    pss_mb: float
    uss_mb: float


def read_memory(pid: int, what: str) -> Memory:
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, rest = line.partition(":")
        fields[name] = int(rest.split()[0])  # kB
    private = fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)
    return Memory(what, fields["Rss"] / 1024, fields["Pss"] / 1024, private / 1024)


@contextlib.contextmanager
def production_install() -> Iterator[Path]:
    """A virtual environment with Flurfunk installed without extras; yields its bin dir."""
    root = Path(tempfile.mkdtemp(prefix="flurfunk-bench-venv-"))
    try:
        # Built from a copy: building in place would leave build/ in the checkout.
        source = root / "source"
        source.mkdir()
        for part in (*PACKAGES, "pyproject.toml", "README.md"):
            copy = shutil.copytree if (REPO / part).is_dir() else shutil.copy
            copy(REPO / part, source / part)
        subprocess.run([sys.executable, "-m", "venv", str(root / "env")], check=True)
        subprocess.run(
            [str(root / "env" / "bin" / "pip"), "install", "--quiet", str(source)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        yield root / "env" / "bin"
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _environment(data_dir: Path, database_url: str, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLURFUNK_")}
    env.update(
        FLURFUNK_PUBLIC_URL=f"http://127.0.0.1:{port}",
        FLURFUNK_DATA_DIR=str(data_dir),
        FLURFUNK_DATABASE_URL=database_url,
        FLURFUNK_CONFIG=str(data_dir / "none.toml"),
        **extra,
    )
    return env


def _idle_memory(process: subprocess.Popen[bytes], what: str) -> Memory:
    time.sleep(IDLE_SECONDS)
    if process.poll() is not None:
        raise RuntimeError(f"{what} exited with {process.returncode}")
    return read_memory(process.pid, what)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def serve_memory(bin_dir: Path, env: dict[str, str], port: int, what: str) -> Memory:
    process = subprocess.Popen(
        [str(bin_dir / "flurfunk"), "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{what} exited with {process.returncode}")
            try:
                if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not become ready")
            time.sleep(0.1)
        for path in ("/api/v1/instance", "/.well-known/nodeinfo", "/api/v1/timelines/public"):
            httpx.get(base + path, timeout=10)
        return _idle_memory(process, what)
    finally:
        _stop(process)


def worker_memory(bin_dir: Path, env: dict[str, str], what: str) -> Memory:
    process = subprocess.Popen(
        [str(bin_dir / "flurfunk"), "worker"], env=env, stdout=subprocess.DEVNULL
    )
    try:
        time.sleep(3)  # start-up: schema check, Redis connection, first sweep
        return _idle_memory(process, what)
    finally:
        _stop(process)


def floor_memory(bin_dir: Path) -> Memory:
    imports = "; ".join(f"import {module}" for module in STACK)
    process = subprocess.Popen(
        [str(bin_dir / "python"), "-c", f"{imports}; import time; time.sleep(600)"]
    )
    try:
        time.sleep(3)
        return _idle_memory(process, "floor: the whole stack imported, idle")
    finally:
        _stop(process)


def memory_bench() -> tuple[list[Memory], list[str]]:
    results: list[Memory] = []
    skipped: list[str] = []
    with production_install() as bin_dir:
        results.append(floor_memory(bin_dir))
        work = Path(tempfile.mkdtemp(prefix="flurfunk-bench-memory-"))
        try:
            port = free_port()
            env = _environment(work, f"sqlite+aiosqlite:///{work / 'flurfunk.db'}", port)
            results.append(serve_memory(bin_dir, env, port, "serve, embedded (SQLite, no Redis)"))
            available, reason = postgres_available()
            redis = LocalRedis.start()
            if not available or redis is None:
                skipped.append(
                    "scaled-out rows: skipped ("
                    + (reason if not available else "no redis-server on this machine")
                    + ")"
                )
            else:
                try:
                    with postgres_database() as url:
                        port = free_port()
                        env = _environment(work, url, port, FLURFUNK_REDIS_URL=redis.url)
                        subprocess.run(
                            [str(bin_dir / "flurfunk"), "migrate"],
                            env=env,
                            check=True,
                            stdout=subprocess.DEVNULL,
                        )
                        results.append(
                            serve_memory(
                                bin_dir, env, port, "serve, one web process (PostgreSQL, Redis)"
                            )
                        )
                        results.append(worker_memory(bin_dir, env, "worker (PostgreSQL, Redis)"))
                finally:
                    redis.stop()
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return results, skipped


def report(results: list[Memory], skipped: list[str]) -> list[str]:
    floor = next(m for m in results if m.what.startswith("floor"))
    lines = [
        "| process | RSS MB | PSS MB | USS (private) MB | RSS / floor |",
        "|---|---|---|---|---|",
    ]
    for m in results:
        lines.append(
            f"| {m.what} | {m.rss_mb:.1f} | {m.pss_mb:.1f} | {m.uss_mb:.1f} | "
            f"{m.rss_mb / floor.rss_mb:.2f} |"
        )
    return lines + (["", *skipped] if skipped else [])
