"""A small company network for federation tests: several real `flurfunk serve` processes.

Nodes are named `<name>.flurfunk.test` and listen on free loopback ports. Their public URLs and
handles look like a company's (`http://hq.flurfunk.test:41234`, `anna@hq.flurfunk.test:41234`)
while FLURFUNK_CONNECT_TO sends every connection to 127.0.0.1. A host that must never be
contacted is routed to a listening socket that counts connections (`peer_in_thread`).

The helpers speak the client API as an app would and wait — bounded, with a message that says
what did not happen — for what federation delivers. Nothing here measures time.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import os
import re
import secrets
import shutil
import signal
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar
from urllib.parse import urlsplit

import httpx
import orjson

from federation.httpsig_sign import http_date, sign_request
from federation.keys import PrivateKey, generate_rsa_keypair, load_private_key
from tests.kit import (
    FLURFUNK,
    START_LIMIT,
    RunningNode,
    User,
    postgres_available,
    postgres_database,
    require_service,
)
from tests.peer import FakePeer, fake_peer

DOMAIN = "flurfunk.test"
WAIT = 20.0
T = TypeVar("T")
AS_CONTEXT = ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"]
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


# --- nodes ---------------------------------------------------------------------------------


@dataclass
class Tls:
    """What a node serving HTTPS needs: its key and certificate, and the CAs it trusts."""

    keyfile: Path
    certfile: Path
    trusted_cas: Path  # FLURFUNK_CA_BUNDLE: whom the node trusts when it connects out
    issuer_ca: Path  # the CA that signed the certificate (what the tests trust to reach it)
    # FLURFUNK_TLS_CLIENT_CERT/KEY: what the node shows peers that require mutual TLS (the
    # tests show it too when they talk to the node).
    client_certfile: Path | None = None
    client_keyfile: Path | None = None


@dataclass
class FedNode(RunningNode):
    """A RunningNode with a company host name; its output goes to `serve.log` in DATA_DIR."""

    name: str = "node"
    tls: Tls | None = None
    start_limit: float = START_LIMIT  # seconds; many nodes on a busy machine may need more
    _log: IO[str] | None = None

    @property
    def host(self) -> str:
        return f"{self.name}.{DOMAIN}"

    @property
    def domain(self) -> str:
        """host:port, the part after the @ in this node's handles."""
        return f"{self.host}:{self.port}"

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def public_url(self) -> str:
        return f"{self.scheme}://{self.domain}"

    @property
    def url(self) -> str:
        """Where the tests reach the node (loopback; the certificate names 127.0.0.1 too)."""
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def verify(self) -> ssl.SSLContext | bool:
        if self.tls is None:
            return True
        context = ssl.create_default_context(cafile=str(self.tls.issuer_ca))
        if self.tls.client_certfile and self.tls.client_keyfile:
            context.load_cert_chain(self.tls.client_certfile, self.tls.client_keyfile)
        return context

    @property
    def log_path(self) -> Path:
        return self.data_dir / "serve.log"

    def handle(self, user: User) -> str:
        return f"{user.name}@{self.domain}"

    def actor_uri(self, user: User) -> str:
        return f"{self.public_url}/users/{user.name}"

    def env(self) -> dict[str, str]:
        env = super().env()
        env["FLURFUNK_PUBLIC_URL"] = self.public_url
        if self.tls is not None:
            env["FLURFUNK_CA_BUNDLE"] = str(self.tls.trusted_cas)
            if self.tls.client_certfile and self.tls.client_keyfile:
                env["FLURFUNK_TLS_CLIENT_CERT"] = str(self.tls.client_certfile)
                env["FLURFUNK_TLS_CLIENT_KEY"] = str(self.tls.client_keyfile)
        return env

    def start(self) -> None:
        """Start (or start again after stop/kill: same port, same data)."""
        if not self.database_url.startswith("sqlite"):
            self.cli("migrate")
        command = [FLURFUNK, "serve", "--port", str(self.port), "--log-level", "warning"]
        command += self.serve_options()
        if self.tls is not None:
            command += ["--ssl-keyfile", str(self.tls.keyfile)]
            command += ["--ssl-certfile", str(self.tls.certfile)]
        self._log = self.log_path.open("a")
        self.process = subprocess.Popen(
            command, env=self.env(), stdout=self._log, stderr=subprocess.STDOUT, text=True
        )
        deadline = time.monotonic() + self.start_limit
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.host} exited:\n{self.log_tail()}")
            try:
                if httpx.get(self.url + "/livez", timeout=1, verify=self.verify).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError(
                f"{self.host} did not become live within {self.start_limit} s:\n{self.log_tail()}"
            )
        found = re.search(r"^Admin account: \S+\s+password: (\S+)", self.log_tail(), re.M)
        if found and not self.admin_password:
            self.admin_password = found.group(1)

    def serve_options(self) -> list[str]:
        """More `flurfunk serve` options (tests/scale_kit.py runs several web processes)."""
        return []

    def kill(self) -> None:
        """SIGKILL: no shutdown of any kind, as when the machine loses power."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self._close_log()

    def stop(self) -> None:
        super().stop()
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def api(self, user: User | None, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {user.token}"} if user else {}
        return httpx.request(
            method, self.url + path, headers=headers, timeout=30, verify=self.verify, **kwargs
        )

    def create_user(
        self,
        prefix: str = "user",
        *,
        locked: bool = False,
        scopes: str = "read write follow push",
        via_cli: bool = False,
    ) -> User:
        # The kit's sign-up path speaks plain HTTP; over TLS the CLI creates the user.
        return super().create_user(
            prefix, locked=locked, scopes=scopes, via_cli=via_cli or self.tls is not None
        )

    def deliveries(self, *args: str) -> str:
        """`flurfunk deliveries ARGS` against this node's database."""
        return self.cli("deliveries", *args).stdout


@dataclass(frozen=True)
class Plan:
    """How one node of a test network is set up.

    `allow` names other nodes (or gives patterns); `stand_ins` sends this node's connections
    for a node name or host to another loopback port instead (a counting listener, a fake).
    """

    allow: tuple[str, ...] = ()
    stand_ins: Mapping[str, int] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    tls: Tls | None = None


@dataclass
class Network:
    nodes: dict[str, FedNode]

    def __getitem__(self, name: str) -> FedNode:
        return self.nodes[name]


def company(listener_port: int) -> dict[str, Plan]:
    """hq and sales allow each other; dev allows everyone but nobody allows dev.

    hq and sales reach "dev" only at `listener_port`: a socket that counts connections, so a
    test can prove that they never tried.
    """
    return {
        "hq": Plan(allow=("sales",), stand_ins={"dev": listener_port}),
        "sales": Plan(allow=("hq",), stand_ins={"dev": listener_port}),
        "dev": Plan(allow=(f"*.{DOMAIN}",)),
    }


def _wire(nodes: Mapping[str, FedNode], plans: Mapping[str, Plan]) -> None:
    for name, plan in plans.items():
        node = nodes[name]
        routes = {o.domain: f"127.0.0.1:{o.port}" for o in nodes.values() if o is not node}
        for target, port in plan.stand_ins.items():
            routes[nodes[target].domain if target in nodes else target] = f"127.0.0.1:{port}"
        allow = [nodes[a].host if a in nodes else a for a in plan.allow]
        node.extra_env = {
            "FLURFUNK_ALLOWLIST": ",".join(allow),
            "FLURFUNK_CONNECT_TO": ",".join(f"{h}={t}" for h, t in routes.items()),
            **plan.env,
        }


@contextlib.contextmanager
def network(
    tmp: Path,
    backend: str,
    plans: Mapping[str, Plan],
    kind: type[FedNode] = FedNode,
    *,
    premigrated: bool = False,
    at_once: int | None = None,
) -> Iterator[Network]:
    """Start one node per plan (in parallel, `at_once` at a time), wired to each other; stop
    them afterwards. `premigrated` (SQLite): every node starts on a copy of one database
    migrated once, as first-start migrations at once are slow on a busy machine."""
    if backend == "postgres":
        available, reason = postgres_available()
        require_service("PostgreSQL", available, reason)
    template = _migrated_template(tmp) if premigrated and backend == "sqlite" else None
    with contextlib.ExitStack() as stack:
        nodes: dict[str, FedNode] = {}
        for name, plan in plans.items():
            data_dir = tmp / f"{name}-{secrets.token_hex(3)}"
            data_dir.mkdir(parents=True)
            if backend == "postgres":
                url = stack.enter_context(postgres_database())
            else:
                url = f"sqlite+aiosqlite:///{data_dir / 'flurfunk.db'}"
                if template is not None:
                    shutil.copy(template, data_dir / "flurfunk.db")
            nodes[name] = kind(data_dir=data_dir, database_url=url, name=name, tls=plan.tls)
        _wire(nodes, plans)
        for node in nodes.values():
            stack.callback(node.stop)
        with concurrent.futures.ThreadPoolExecutor(at_once or len(nodes)) as pool:
            for started in [pool.submit(n.start) for n in nodes.values()]:
                started.result()
        yield Network(nodes)


def _migrated_template(tmp: Path) -> Path:
    """An empty SQLite database with the whole schema, for nodes to start on copies of."""
    folder = tmp / f"template-{secrets.token_hex(3)}"
    folder.mkdir(parents=True)
    migrated = subprocess.run(
        [FLURFUNK, "migrate"],
        env={**os.environ, "FLURFUNK_DATA_DIR": str(folder)},
        capture_output=True,
        text=True,
        check=False,
    )
    if migrated.returncode != 0:
        raise RuntimeError(f"migrating the template database failed:\n{migrated.stderr}")
    return folder / "flurfunk.db"


# --- a fake peer for tests that are not async ----------------------------------------------


@contextlib.contextmanager
def peer_in_thread(tls: ssl.SSLContext | None = None) -> Iterator[FakePeer]:
    """A tests.peer.FakePeer served by an event loop in a thread of its own."""
    loop = asyncio.new_event_loop()
    ready: concurrent.futures.Future[FakePeer] = concurrent.futures.Future()
    stop = asyncio.Event()

    async def serve() -> None:
        async with fake_peer(tls) as peer:
            ready.set_result(peer)
            await stop.wait()
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    try:
        yield ready.result(timeout=10)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


# --- a fake remote node: a FakePeer that serves actors and notes ----------------------------

REMOTE_HOST = "sales.flurfunk.test"


@dataclass
class FakeRemote:
    """A fake remote node (`sales.flurfunk.test` on the peer's port): the actors and documents
    it serves, and what a real node POSTed or fetched from it."""

    peer: FakePeer

    @property
    def host(self) -> str:
        return f"{REMOTE_HOST}:{self.peer.port}"

    def actor(self, prefix: str = "bob") -> FakeActor:
        actor = FakeActor.generate(self.host, f"{prefix}{secrets.token_hex(3)}")
        actor.publish(self.peer)
        return actor

    def note(self, actor: FakeActor, html: str, **fields: Any) -> dict[str, Any]:
        """A public note by `actor`; serve() makes it fetchable."""
        uri = f"{actor.uri}/statuses/{secrets.token_hex(6)}"
        return {
            "id": uri,
            "type": "Note",
            "attributedTo": actor.uri,
            "content": html,
            "url": uri,
            "published": "2024-05-02T09:00:00Z",
            "to": [PUBLIC],
            "cc": [actor.uri + "/followers"],
            "tag": [],
            **fields,
        }

    def serve(self, *documents: dict[str, Any]) -> None:
        for document in documents:
            body = orjson.dumps({"@context": AS_CONTEXT, **document})
            self.peer.answer(
                urlsplit(document["id"]).path, 200, body, content_type="application/activity+json"
            )

    def webfinger(self, actor: FakeActor) -> None:
        """Answer WebFinger for `actor` (the fake answers one handle at a time)."""
        self.peer.answer(
            "/.well-known/webfinger",
            200,
            orjson.dumps(
                {
                    "subject": f"acct:{actor.name}@{self.host}",
                    "links": [
                        {"rel": "self", "type": "application/activity+json", "href": actor.uri}
                    ],
                }
            ),
            content_type="application/jrd+json",
        )

    def fetches_of(self, documents: list[dict[str, Any]]) -> int:
        """How often a node fetched any of `documents`."""
        paths = {urlsplit(d["id"]).path for d in documents}
        return sum(1 for r in list(self.peer.received) if r.method == "GET" and r.path in paths)

    def delivered(self, actor: FakeActor) -> list[dict[str, Any]]:
        """Activities a node POSTed to `actor`'s inbox (or this node's shared inbox)."""
        paths = (f"/users/{actor.name}/inbox", "/inbox")
        return [
            orjson.loads(r.body)
            for r in list(self.peer.received)
            if r.method == "POST" and r.path in paths
        ]

    def awaits(
        self, actor: FakeActor, kind: str, test: Callable[[dict[str, Any]], bool] = lambda a: True
    ) -> dict[str, Any]:
        """Wait until a node has delivered a `kind` activity for `actor` that passes `test`."""
        return wait_for(
            lambda: next(
                (a for a in self.delivered(actor) if a.get("type") == kind and test(a)), None
            ),
            f"a {kind} delivered to {actor.name}",
        )


@contextlib.contextmanager
def fake_remote() -> Iterator[FakeRemote]:
    with peer_in_thread() as peer:
        yield FakeRemote(peer)


@contextlib.contextmanager
def node_beside(
    remote: FakeRemote, tmp: Path, backend: str, also_allow: tuple[str, ...] = ()
) -> Iterator[FedNode]:
    """One real node, hq, that federates with `remote` (and whatever else `also_allow` names)."""
    plans = {
        "hq": Plan(allow=(REMOTE_HOST, *also_allow), stand_ins={remote.host: remote.peer.port})
    }
    with network(tmp, backend, plans) as net:
        yield net["hq"]


# --- a signing fake actor on a fake peer ---------------------------------------------------


@dataclass
class FakeActor:
    """An actor of a fake remote node: its document is served by a FakePeer, and it signs
    whatever a test wants to POST to a real node's inbox — well-formed or not."""

    host: str
    name: str
    private_pem: str
    public_pem: str

    @classmethod
    def generate(cls, host: str, name: str = "mallory") -> FakeActor:
        private_pem, public_pem = generate_rsa_keypair()
        return cls(host, name, private_pem, public_pem)

    @property
    def uri(self) -> str:
        return f"http://{self.host}/users/{self.name}"

    @property
    def key_id(self) -> str:
        return self.uri + "#main-key"

    @functools.cached_property
    def private_key(self) -> PrivateKey:
        return load_private_key(self.private_pem)

    def document(self) -> dict[str, Any]:
        return {
            "@context": AS_CONTEXT,
            "id": self.uri,
            "type": "Person",
            "preferredUsername": self.name,
            "name": self.name.title(),
            "inbox": self.uri + "/inbox",
            "outbox": self.uri + "/outbox",
            "followers": self.uri + "/followers",
            "following": self.uri + "/following",
            "endpoints": {"sharedInbox": f"http://{self.host}/inbox"},
            "publicKey": {"id": self.key_id, "owner": self.uri, "publicKeyPem": self.public_pem},
        }

    def publish(self, peer: FakePeer) -> None:
        """Serve the actor document at its URI (the node fetches it to verify signatures)."""
        peer.answer(
            f"/users/{self.name}",
            200,
            orjson.dumps(self.document()),
            content_type="application/activity+json",
        )

    def get(self, node: FedNode, path: str) -> httpx.Response:
        """A signed GET (authorized fetch) of `path` on `node`."""
        headers = sign_request(
            "GET",
            node.public_url + path,
            {"accept": "application/activity+json", "host": node.domain},
            self.key_id,
            self.private_key,
        )
        return httpx.get(node.url + path, headers=headers, timeout=30, verify=node.verify)

    def activity(self, kind: str, obj: Any, **extra: Any) -> dict[str, Any]:
        return {
            "@context": AS_CONTEXT,
            "id": f"{self.uri}#{kind.lower()}s/{secrets.token_hex(6)}",
            "type": kind,
            "actor": self.uri,
            "object": obj,
            **extra,
        }

    def post(
        self,
        node: FedNode,
        body: dict[str, Any] | bytes,
        *,
        path: str = "/inbox",
        content_type: str = "application/activity+json",
        date: str | None = None,
        signed: bool = True,
        tamper: Callable[[dict[str, str]], None] | None = None,
        send: bytes | None = None,
    ) -> httpx.Response:
        """POST `body` to `node`'s inbox, signed by this actor as a real peer would sign it.

        `date` backdates the signed Date header; `tamper` edits the headers after signing;
        `send` goes over the wire instead of the body that was signed.
        """
        raw = body if isinstance(body, bytes) else orjson.dumps(body)
        headers = {"content-type": content_type, "host": node.domain}
        if date is not None:
            headers["date"] = date
        if signed:
            headers = sign_request(
                "POST",
                node.public_url + path,
                headers,
                self.key_id,
                self.private_key,
                raw,
            )
        if tamper is not None:
            tamper(headers)
        return httpx.post(
            node.url + path,
            content=raw if send is None else send,
            headers=headers,
            timeout=30,
            verify=node.verify,
        )


def stale_date(seconds: float = 3600) -> str:
    return http_date(time.time() - seconds)


# --- what a user does and sees -------------------------------------------------------------


def wait_for(check: Callable[[], T | None], what: str, timeout: float = WAIT) -> T:
    """Poll `check` until it returns something truthy; fail saying `what` did not happen."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s (last seen: {result!r})")
        time.sleep(0.15)


def _ok(answer: httpx.Response, status: int = 200) -> Any:
    assert answer.status_code == status, (
        f"{answer.request.method} {answer.request.url} answered {answer.status_code}: "
        f"{answer.text[:500]}"
    )
    return answer.json()


def resolve(node: FedNode, user: User, handle: str) -> dict[str, Any] | None:
    """The account for `handle` as `user` finds it with `GET /api/v2/search?resolve=true`."""
    found = _ok(
        node.api(
            user,
            "GET",
            "/api/v2/search",
            params={"q": "@" + handle, "resolve": "true", "type": "accounts"},
        )
    )
    for account in found["accounts"]:
        if account["acct"].lower() == handle.lower():
            return dict(account)
    return None


def remote_account(node: FedNode, user: User, other: FedNode, target: User) -> dict[str, Any]:
    handle = other.handle(target)
    account = resolve(node, user, handle)
    assert account is not None, f"{user.name} on {node.host} could not resolve {handle}"
    return account


def relationship(node: FedNode, user: User, account_id: str) -> dict[str, Any]:
    found = _ok(node.api(user, "GET", "/api/v1/accounts/relationships", params={"id": account_id}))
    assert found, f"no relationship with {account_id} on {node.host}"
    return dict(found[0])


def follow(node: FedNode, user: User, other: FedNode, target: User) -> dict[str, Any]:
    """`user` on `node` follows `target` on `other`; returns the target's account on `node`."""
    account = remote_account(node, user, other, target)
    _ok(node.api(user, "POST", f"/api/v1/accounts/{account['id']}/follow"))
    return account


def follows(node: FedNode, user: User, other: FedNode, target: User) -> dict[str, Any]:
    """Follow and wait until the target's node has accepted."""
    account = follow(node, user, other, target)
    wait_for(
        lambda: relationship(node, user, account["id"])["following"],
        f"{other.handle(target)} accepting the follow of {node.handle(user)}",
    )
    return account


def post(node: FedNode, user: User, text: str, **fields: Any) -> dict[str, Any]:
    return dict(_ok(node.api(user, "POST", "/api/v1/statuses", json={"status": text, **fields})))


def home(node: FedNode, user: User) -> list[dict[str, Any]]:
    return list(_ok(node.api(user, "GET", "/api/v1/timelines/home", params={"limit": 40})))


def by_uri(statuses: list[dict[str, Any]], uri: str) -> dict[str, Any] | None:
    return next((s for s in statuses if s["uri"] == uri), None)


def in_home(node: FedNode, user: User, uri: str) -> dict[str, Any] | None:
    return by_uri(home(node, user), uri)


def arrives(node: FedNode, user: User, uri: str) -> dict[str, Any]:
    """Wait until the status `uri` is in `user`'s home timeline on `node`."""
    return wait_for(lambda: in_home(node, user, uri), f"{uri} in {node.handle(user)}'s home")


def seen(node: FedNode, user: User, uri: str) -> dict[str, Any] | None:
    """The status `uri` as `user` sees it on `node`, if it is stored there and visible to them
    (search by URL without resolving: nothing is fetched)."""
    found = _ok(node.api(user, "GET", "/api/v2/search", params={"q": uri, "type": "statuses"}))
    return by_uri(found["statuses"], uri)


def status(node: FedNode, user: User, status_id: str) -> httpx.Response:
    return node.api(user, "GET", f"/api/v1/statuses/{status_id}")


def notifications(node: FedNode, user: User, kind: str | None = None) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"limit": 40}
    if kind:
        params["types[]"] = kind
    return list(_ok(node.api(user, "GET", "/api/v1/notifications", params=params)))


def notified(
    node: FedNode, user: User, kind: str, by: str, status_uri: str | None = None
) -> list[dict[str, Any]]:
    """Notifications of `kind` from the account `by` (acct as `user`'s node shows it)."""
    return [
        n
        for n in notifications(node, user, kind)
        if n["account"]["acct"] == by
        and (status_uri is None or (n.get("status") or {}).get("uri") == status_uri)
    ]


def account_of(node: FedNode, user: User, account_id: str) -> dict[str, Any]:
    return dict(_ok(node.api(user, "GET", f"/api/v1/accounts/{account_id}")))


def me(node: FedNode, user: User) -> dict[str, Any]:
    return dict(_ok(node.api(user, "GET", "/api/v1/accounts/verify_credentials")))


def delivery_summary(node: FedNode, host: str) -> dict[str, str]:
    """The `flurfunk deliveries --host HOST` line for `host` as a dict (empty when none)."""
    lines = node.deliveries("--host", host).splitlines()
    header = [h.lower() for h in re.split(r"\s{2,}", lines[0].strip())] if lines else []
    for line in lines[1:]:
        cells = re.split(r"\s{2,}", line.strip())
        if cells and (cells[0] == host or cells[0].startswith(host + ":")):
            return dict(zip(header, cells, strict=False))
    return {}


def pending(node: FedNode, host: str) -> int:
    """How many deliveries from `node` to `host` are still pending."""
    return int(delivery_summary(node, host).get("pending", "0"))


def deliveries_once(
    node: FedNode, host: str, ready: Callable[[dict[str, str]], bool], what: str
) -> dict[str, str]:
    """Wait until `node`'s `flurfunk deliveries` line for `host` satisfies `ready`."""

    def check() -> dict[str, str] | None:
        summary = delivery_summary(node, host)
        return summary if summary and ready(summary) else None

    return wait_for(check, what)
