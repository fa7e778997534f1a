"""`flurfunk demo`: a company network on one machine, to show federation to a newcomer.

Nodes `hq`, `sales`, `dev` (`.flurfunk.test`) run as child `flurfunk serve` processes on
consecutive loopback ports, each with its data under ./var/demo/<name>, wired to each other
with CONNECT_TO and allowing each other. Two people per node follow everyone on the other
nodes and post a little; then the demo prints addresses and logins and runs until Ctrl-C.
Every run starts from scratch: a demo's data is throwaway.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any

import httpx

from models.db import Database
from outbox.accounts import create_local_account, random_password
from web.auth import cli_app, hash_password, issue_token
from web.config import load_settings

NAMES = ("hq", "sales", "dev", "hr", "ops", "lab")
PEOPLE = {
    "hq": ("anna", "ben"),
    "sales": ("carla", "david"),
    "dev": ("erik", "fatima"),
    "hr": ("greta", "hugo"),
    "ops": ("ines", "jonas"),
    "lab": ("katrin", "lukas"),
}
POSTS = {
    "anna": "Welcome to Flurfunk, everyone! Town hall on Friday at 10.",
    "ben": "The new coffee machine on floor 3 works. Mostly.",
    "carla": "Closed the Hamburg deal today. Thanks to everyone who helped!",
    "david": "Sales kick-off slides are in the wiki.",
    "erik": "Release 2.4 is out: faster search, fewer bugs.",
    "fatima": "Looking for a reviewer for the login rework, any takers?",
}
DOMAIN = "flurfunk.test"
LIVE_TIMEOUT = 60.0
FOLLOW_TIMEOUT = 20.0


class DemoError(Exception):
    """Why the demo cannot start (a port in use, a node that would not come up)."""


@dataclass
class Person:
    name: str
    node: DemoNode
    password: str = field(default_factory=random_password)
    token: str = ""

    @property
    def email(self) -> str:
        return f"{self.name}@{self.node.host}"

    @property
    def handle(self) -> str:
        return f"{self.name}@{self.node.domain}"


@dataclass
class DemoNode:
    name: str
    port: int
    data_dir: Path
    process: subprocess.Popen[str] | None = None
    log: IO[str] | None = None
    people: list[Person] = field(default_factory=list)
    admin_password: str = ""
    env: dict[str, str] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return f"{self.name}.{DOMAIN}"

    @property
    def domain(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def public_url(self) -> str:
        return f"http://{self.domain}"

    @property
    def local_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _plan(count: int, base_port: int, root: Path) -> list[DemoNode]:
    nodes = [
        DemoNode(name, base_port + i, (root / name).resolve())
        for i, name in enumerate(NAMES[:count])
    ]
    for node in nodes:
        if not _port_free(node.port):
            raise DemoError(f"port {node.port} is in use (try --base-port)")
        node.people = [Person(name, node) for name in PEOPLE[node.name]]
    base = {k: v for k, v in os.environ.items() if not k.startswith("FLURFUNK_")}
    for node in nodes:
        others = [o for o in nodes if o is not node]
        node.env = {
            **base,
            "FLURFUNK_PUBLIC_URL": node.public_url,
            "FLURFUNK_DATA_DIR": str(node.data_dir),
            "FLURFUNK_DATABASE_URL": f"sqlite+aiosqlite:///{node.data_dir / 'flurfunk.db'}",
            # No flurfunk.toml of the working directory: the demo is self-contained.
            "FLURFUNK_CONFIG": str(node.data_dir / "flurfunk.toml"),
            "FLURFUNK_ALLOWLIST": ",".join(o.host for o in others),
            "FLURFUNK_CONNECT_TO": ",".join(f"{o.domain}=127.0.0.1:{o.port}" for o in others),
        }
    return nodes


def _start(node: DemoNode) -> None:
    if node.data_dir.exists():
        shutil.rmtree(node.data_dir)
    node.data_dir.mkdir(parents=True)
    node.log = (node.data_dir / "serve.log").open("w")
    node.process = subprocess.Popen(
        [sys.executable, "-m", "web.cli", "serve", "--port", str(node.port)],
        env=node.env,
        stdout=node.log,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_live(node: DemoNode) -> None:
    assert node.process is not None
    deadline = time.monotonic() + LIVE_TIMEOUT
    while time.monotonic() < deadline:
        if node.process.poll() is not None:
            raise DemoError(f"{node.host} stopped; see {node.data_dir / 'serve.log'}")
        try:
            if httpx.get(node.local_url + "/livez", timeout=1).status_code == 200:
                log = (node.data_dir / "serve.log").read_text(errors="replace")
                found = re.search(r"^Admin account: \S+\s+password: (\S+)", log, re.M)
                node.admin_password = found.group(1) if found else ""
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise DemoError(f"{node.host} did not start within {LIVE_TIMEOUT:.0f} s")


def _stop(nodes: list[DemoNode]) -> None:
    running = [n for n in nodes if n.process is not None and n.process.poll() is None]
    for node in running:
        assert node.process is not None
        node.process.send_signal(signal.SIGTERM)
    for node in running:
        assert node.process is not None
        try:
            node.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            node.process.kill()
            node.process.wait()
    for node in nodes:
        if node.log is not None:
            node.log.close()


async def _create_people(node: DemoNode) -> None:
    """Accounts and API tokens, written straight into the node's database (as the CLI does)."""
    settings = load_settings(node.env)
    db = Database(settings.database_url, default_language=settings.default_language)
    try:
        async with db.write() as session:
            app = await cli_app(session)
            for person in node.people:
                account = await create_local_account(
                    session,
                    settings,
                    username=person.name,
                    password_hash=hash_password(person.password),
                    email=person.email,
                    display_name=person.name.title(),
                )
                person.token, _, _ = await issue_token(
                    session,
                    app_id=app.id,
                    account_id=account.id,
                    scopes=["read", "write", "follow", "push"],
                    with_refresh=False,
                )
    finally:
        await db.dispose()


def _api(person: Person, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(
        method,
        person.node.local_url + path,
        headers={"Authorization": f"Bearer {person.token}"},
        timeout=30,
        **kwargs,
    )


def _resolve(person: Person, other: Person) -> str | None:
    """The id of `other`'s account on `person`'s node, found as an app finds it."""
    answer = _api(
        person,
        "GET",
        "/api/v2/search",
        params={"q": "@" + other.handle, "resolve": "true", "type": "accounts"},
    )
    if answer.status_code != 200:
        return None
    for account in answer.json().get("accounts", []):
        if account.get("acct", "").lower() == other.handle.lower():
            return str(account["id"])
    return None


def _introduce(nodes: list[DemoNode]) -> list[str]:
    """Everyone follows everyone on the other nodes; returns what did not work."""
    problems: list[str] = []
    waiting: list[tuple[Person, str, Person]] = []
    people = [p for n in nodes for p in n.people]
    for person in people:
        for other in people:
            if other.node is person.node:
                continue
            account_id = _resolve(person, other)
            if account_id is None:
                problems.append(f"{person.handle} could not find {other.handle}")
                continue
            if _api(person, "POST", f"/api/v1/accounts/{account_id}/follow").status_code != 200:
                problems.append(f"{person.handle} could not follow {other.handle}")
                continue
            waiting.append((person, account_id, other))
    deadline = time.monotonic() + FOLLOW_TIMEOUT
    while waiting and time.monotonic() < deadline:
        still = []
        for person, account_id, other in waiting:
            answer = _api(
                person, "GET", "/api/v1/accounts/relationships", params={"id": account_id}
            )
            if not (answer.status_code == 200 and answer.json() and answer.json()[0]["following"]):
                still.append((person, account_id, other))
        waiting = still
        if waiting:
            time.sleep(0.3)
    problems += [f"{o.handle} has not accepted {p.handle} yet" for p, _, o in waiting]
    return problems


def _post(nodes: list[DemoNode]) -> list[str]:
    problems = []
    for person in (p for n in nodes for p in n.people):
        text = POSTS.get(person.name, f"Hello from {person.node.name}!")
        answer = _api(person, "POST", "/api/v1/statuses", json={"status": text})
        if answer.status_code != 200:
            problems.append(f"{person.handle} could not post: HTTP {answer.status_code}")
    return problems


def _welcome(nodes: list[DemoNode], root: Path, problems: list[str]) -> str:
    width = max(len(n.name) for n in nodes)
    lines = [
        f"Flurfunk demo: {len(nodes)} nodes federating on this machine "
        f"(data and logs under {root}/<node>)",
        "",
    ]
    lines += [
        f"  {n.name.ljust(width)}  {n.local_url}   public URL {n.public_url}"
        f"   admin password: {n.admin_password or '?'}"
        for n in nodes
    ]
    lines += ["", "People (sign in with the user name or e-mail address and the password):"]
    handles = max(len(p.handle) for n in nodes for p in n.people)
    lines += [
        f"  {p.handle.ljust(handles)}  password: {p.password}   token: {p.token}"
        for n in nodes
        for p in n.people
    ]
    first = nodes[0].people[0]
    lines += [
        "",
        "With toot, the terminal client:",
        f"  toot login_cli --instance {first.node.local_url} --email {first.email} "
        f"--password '{first.password}'",
        "  toot timeline",
        "With curl:",
        f"  curl -H 'Authorization: Bearer {first.token}' "
        f"{first.node.local_url}/api/v1/timelines/home",
        "",
        "Links on the web pages use the public URLs; to follow them in a browser, add",
        f"  127.0.0.1 {' '.join(n.host for n in nodes)}",
        "to /etc/hosts.",
    ]
    if problems:
        lines += ["", "Federation problems while setting up:", *(f"  {p}" for p in problems)]
    lines += ["", "Running. Press Ctrl-C to stop."]
    return "\n".join(lines)


@contextlib.contextmanager
def _children(nodes: list[DemoNode]) -> Iterator[None]:
    """Stop the child nodes however the demo ends (Ctrl-C, SIGTERM, an error)."""

    def terminate(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, terminate)
    # Ctrl-C stops the demo even where the shell started it with SIGINT ignored.
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        _stop(nodes)
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)


def run(nodes: int = 3, base_port: int = 8001, root: Path = Path("var/demo")) -> None:
    cluster = _plan(nodes, base_port, root)
    with _children(cluster):
        try:
            for node in cluster:
                _start(node)
            for node in cluster:
                _wait_live(node)
            for node in cluster:
                asyncio.run(_create_people(node))
            problems = _introduce(cluster) if len(cluster) > 1 else []
            problems += _post(cluster)
            print(_welcome(cluster, root, problems), flush=True)
            while all(n.process is not None and n.process.poll() is None for n in cluster):
                time.sleep(0.5)
            gone = [
                n.host for n in cluster if n.process is not None and n.process.poll() is not None
            ]
            raise DemoError(f"{', '.join(gone)} stopped; see its serve.log")
        except KeyboardInterrupt:
            print("\nStopping the demo nodes.", flush=True)
