"""The test kit: real nodes as real processes, named users, real clients.

A `RunningNode` is `flurfunk serve` in a subprocess on a free loopback port with its own data
directory and database; tests talk to it over HTTP exactly as a client app would.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

FLURFUNK = str(Path(sys.executable).with_name("flurfunk"))
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
# How long a node may take to answer /livez: generous, since a loaded 2-core machine running
# several nodes and their tests at once starts each far slower than a quiet one (and longer
# still when FLURFUNK_TEST_START_LIMIT says so: seconds).
START_LIMIT = float(os.environ.get("FLURFUNK_TEST_START_LIMIT", "240"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def require_service(name: str, available: bool, reason: str) -> None:
    """With CI=true a missing service fails the run; elsewhere the test is skipped."""
    if available:
        return
    if in_ci():
        pytest.fail(f"{name} is required in CI but unavailable: {reason}")
    pytest.skip(f"{name} unavailable: {reason}")


async def _pg(statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def postgres_available() -> tuple[bool, str]:
    try:
        asyncio.run(_pg("SELECT 1"))
    except Exception as exc:  # any failure to connect means "not available" here
        return False, f"{type(exc).__name__}: {exc}"
    return True, ""


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for one node, dropped afterwards."""
    name = "flurfunk_test_" + secrets.token_hex(4)
    asyncio.run(_pg(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@dataclass
class User:
    name: str
    password: str
    email: str
    token: str
    id: str = ""


@dataclass
class RunningNode:
    data_dir: Path
    database_url: str
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[str] | None = None
    admin_password: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)
    log_level: str = "warning"  # `serve --log-level`; "info" prints a JSON access line per request
    _app: dict[str, str] | None = None
    _app_token: str | None = None
    output: collections.deque[str] = field(default_factory=collections.deque)
    _drainer: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            FLURFUNK_PUBLIC_URL=self.url,
            FLURFUNK_DATA_DIR=str(self.data_dir),
            FLURFUNK_DATABASE_URL=self.database_url,
            FLURFUNK_CONFIG=str(self.data_dir / "none.toml"),
            FLURFUNK_REGISTRATIONS_OPEN="true",
        )
        env.update(self.extra_env)
        return env

    def cli(
        self, *args: str, stdin: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [FLURFUNK, *args],
            env=self.env(),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"flurfunk {' '.join(args)} failed: {result.stderr}")
        return result

    def start(self) -> None:
        if not self.database_url.startswith("sqlite"):
            self.cli("migrate")
        self.process = subprocess.Popen(
            [FLURFUNK, "serve", "--port", str(self.port), "--log-level", self.log_level],
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        # Drain the node's output in the background: a full pipe would block the node.
        self.output = collections.deque(maxlen=2000)
        self._drainer = threading.Thread(target=self._drain, daemon=True)
        self._drainer.start()
        deadline = time.monotonic() + START_LIMIT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("node exited:\n" + "".join(self.output))
            try:
                if httpx.get(self.url + "/livez", timeout=1).status_code == 200:
                    self.admin_password = next(
                        (
                            line.split("password:")[1].strip()
                            for line in list(self.output)
                            if line.startswith("Admin account:")
                        ),
                        "",
                    )
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"node did not become live within {START_LIMIT} s")

    def _drain(self) -> None:
        assert self.process is not None
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._drainer is not None:
            self._drainer.join(timeout=5)  # it ends at EOF, once the node has exited
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()

    def create_user(
        self,
        prefix: str = "user",
        *,
        locked: bool = False,
        scopes: str = "read write follow push",
        via_cli: bool = False,
    ) -> User:
        """A new local user with a unique name, a password, an e-mail address and a token.

        Users sign up through the app API (`POST /api/v1/accounts`, test nodes open
        registrations), which costs milliseconds; `via_cli=True` uses `flurfunk user create`
        and `user token` instead (a second or so).
        """
        name = f"{prefix}{secrets.token_hex(3)}"
        password = "pw-" + secrets.token_urlsafe(12)
        email = f"{name}@example.com"
        if via_cli:
            self.cli("user", "create", name, "--password", password, "--email", email)
            token = self.cli("user", "token", name, "--scopes", scopes).stdout.strip()
            token = token.splitlines()[-1]
        else:
            answer = httpx.post(
                self.url + "/api/v1/accounts",
                timeout=30,
                headers={"Authorization": f"Bearer {self.app_token()}"},
                data={"username": name, "email": email, "password": password, "agreement": "true"},
            )
            answer.raise_for_status()
            token = answer.json()["access_token"]
            if scopes != "read write follow push":
                token = self.password_token(email, password, scopes)
        user = User(name=name, password=password, email=email, token=token)
        me = self.api(user, "GET", "/api/v1/accounts/verify_credentials")
        if me.status_code == 200:
            user.id = me.json()["id"]
        if locked:
            self.api(
                user, "PATCH", "/api/v1/accounts/update_credentials", data={"locked": "true"}
            ).raise_for_status()
        return user

    def app_token(self) -> str:
        """A client-credentials token of a test app that may request every scope."""
        if self._app_token is None:
            app = httpx.post(
                self.url + "/api/v1/apps",
                timeout=30,
                data={
                    "client_name": "flurfunk tests",
                    "redirect_uris": "urn:ietf:wg:oauth:2.0:oob",
                    "scopes": "read write follow push",
                },
            ).json()
            self._app = app
            self._app_token = httpx.post(
                self.url + "/oauth/token",
                timeout=30,
                data={
                    "grant_type": "client_credentials",
                    "client_id": app["client_id"],
                    "client_secret": app["client_secret"],
                    "scope": "read write follow push",
                },
            ).json()["access_token"]
        return self._app_token

    def password_token(self, login: str, password: str, scopes: str) -> str:
        """A token with exactly `scopes`, through the test app's password grant."""
        self.app_token()
        assert self._app is not None
        answer = httpx.post(
            self.url + "/oauth/token",
            timeout=30,
            data={
                "grant_type": "password",
                "username": login,
                "password": password,
                "client_id": self._app["client_id"],
                "client_secret": self._app["client_secret"],
                "scope": scopes,
            },
        )
        answer.raise_for_status()
        return str(answer.json()["access_token"])

    def api(self, user: User | None, method: str, path: str, **kwargs: object) -> httpx.Response:
        headers = {"Authorization": f"Bearer {user.token}"} if user else {}
        return httpx.request(method, self.url + path, headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]


@contextlib.contextmanager
def running_node(tmp: Path, backend: str, **extra_env: str) -> Iterator[RunningNode]:
    if backend == "postgres":
        available, reason = postgres_available()
        require_service("PostgreSQL", available, reason)
    data_dir = tmp / f"node-{secrets.token_hex(3)}"
    data_dir.mkdir(parents=True)
    with contextlib.ExitStack() as stack:
        if backend == "postgres":
            url = stack.enter_context(postgres_database())
        else:
            url = f"sqlite+aiosqlite:///{data_dir / 'flurfunk.db'}"
        node = RunningNode(data_dir=data_dir, database_url=url, extra_env=extra_env)
        node.start()
        try:
            yield node
        finally:
            node.stop()
            shutil.rmtree(data_dir, ignore_errors=True)
