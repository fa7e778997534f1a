"""A fake remote node for outbound-federation tests: a real tiny HTTP server in a thread of its
own (so that tests may block on Mastodon.py or httpx while it answers the node).

It serves WebFinger and actor documents with real RSA keys for the actors a test adds, serves
notes a test publishes, records every request (inbox POSTs above all) and counts connections.
Its actors sign what they POST to a node's inbox, as a real server would.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson

from federation.httpsig_sign import sign_request
from federation.keys import generate_rsa_keypair, load_private_key
from tests.federation_kit import AS_CONTEXT, PUBLIC, wait_for
from tests.kit import RunningNode, User, free_port, postgres_database
from tests.peer import Received

AS_JSON = "application/activity+json"


@dataclass
class FakeActor:
    """A person on a fake node, with a key pair of its own."""

    base: str  # http://sales.flurfunk.test:PORT
    name: str
    private_pem: str
    public_pem: str

    @property
    def uri(self) -> str:
        return f"{self.base}/users/{self.name}"

    @property
    def inbox(self) -> str:
        return self.uri + "/inbox"

    @property
    def followers(self) -> str:
        return self.uri + "/followers"

    @property
    def key_id(self) -> str:
        return self.uri + "#main-key"

    def document(self) -> dict[str, Any]:
        return {
            "@context": AS_CONTEXT,
            "id": self.uri,
            "type": "Person",
            "preferredUsername": self.name,
            "name": self.name.title(),
            "url": f"{self.base}/@{self.name}",
            "inbox": self.inbox,
            "outbox": self.uri + "/outbox",
            "followers": self.followers,
            "following": self.uri + "/following",
            "endpoints": {"sharedInbox": f"{self.base}/inbox"},
            "publicKey": {"id": self.key_id, "owner": self.uri, "publicKeyPem": self.public_pem},
        }

    def activity(self, kind: str, obj: Any, **extra: Any) -> dict[str, Any]:
        return {
            "@context": AS_CONTEXT,
            "id": f"{self.uri}#{kind.lower()}s/{secrets.token_hex(6)}",
            "type": kind,
            "actor": self.uri,
            "object": obj,
            **extra,
        }


@dataclass
class Inbound:
    """An activity the fake node received, with where and how it came."""

    path: str
    activity: dict[str, Any]
    request: Received

    @property
    def type(self) -> str:
        return str(self.activity.get("type"))

    @property
    def object(self) -> Any:
        return self.activity.get("object")


@dataclass
class FakeNode:
    host: str  # e.g. sales.flurfunk.test
    port: int = 0
    connections: int = 0
    received: list[Received] = field(default_factory=list)
    actors: dict[str, FakeActor] = field(default_factory=dict)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def domain(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def base(self) -> str:
        return f"http://{self.domain}"

    @property
    def connect_to(self) -> str:
        """This node's entry in FLURFUNK_CONNECT_TO."""
        return f"{self.domain}=127.0.0.1:{self.port}"

    def add_actor(self, prefix: str = "bob") -> FakeActor:
        private_pem, public_pem = generate_rsa_keypair()
        actor = FakeActor(self.base, f"{prefix}{secrets.token_hex(3)}", private_pem, public_pem)
        self.actors[actor.name] = actor
        return actor

    def handle(self, actor: FakeActor) -> str:
        return f"{actor.name}@{self.domain}"

    def publish_note(self, actor: FakeActor, content: str, **extra: Any) -> dict[str, Any]:
        """A public note by `actor`, served at its id (for the node to fetch)."""
        path = f"/users/{actor.name}/statuses/{secrets.randbelow(10**12)}"
        note = {
            "@context": AS_CONTEXT,
            "id": self.base + path,
            "type": "Note",
            "attributedTo": actor.uri,
            "content": f"<p>{content}</p>",
            "published": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "to": [PUBLIC],
            "cc": [actor.followers],
            "url": f"{self.base}/@{actor.name}/{path.rsplit('/', 1)[1]}",
            **extra,
        }
        self.objects[path] = note
        return note

    # --- what arrived --------------------------------------------------------------------

    def inbound(self, kind: str | None = None) -> list[Inbound]:
        with self._lock:
            posts = [r for r in self.received if r.method == "POST"]
        found = []
        for request in posts:
            try:
                activity = orjson.loads(request.body)
            except orjson.JSONDecodeError:
                continue
            if isinstance(activity, dict) and (kind is None or activity.get("type") == kind):
                found.append(Inbound(request.path, activity, request))
        return found

    def about(self, kind: str, object_id: str) -> list[Inbound]:
        """Activities of `kind` whose object is (or has the id) `object_id`."""
        return [a for a in self.inbound(kind) if _id_of(a.object) == object_id]

    def wait(self, kind: str, object_id: str, what: str = "") -> Inbound:
        found = wait_for(
            lambda: self.about(kind, object_id), what or f"a {kind} of {object_id} to arrive"
        )
        return found[0]

    # --- speaking to a node --------------------------------------------------------------

    def post(
        self,
        actor: FakeActor,
        node: RunningNode,
        public_url: str,
        activity: dict[str, Any],
        path: str = "/inbox",
    ) -> httpx.Response:
        """POST an activity to a node's inbox, signed by `actor` (cavage, as Mastodon)."""
        raw = orjson.dumps(activity)
        headers = sign_request(
            "POST",
            public_url + path,
            {"content-type": AS_JSON, "host": urlsplit(public_url).netloc},
            actor.key_id,
            load_private_key(actor.private_pem),
            raw,
        )
        return httpx.post(node.url + path, content=raw, headers=headers, timeout=30)

    def get(
        self, actor: FakeActor, node: RunningNode, public_url: str, path: str
    ) -> httpx.Response:
        """A signed GET (authorized fetch) of a node's ActivityPub document."""
        headers = sign_request(
            "GET",
            public_url + path,
            {"accept": AS_JSON, "host": urlsplit(public_url).netloc},
            actor.key_id,
            load_private_key(actor.private_pem),
        )
        return httpx.get(node.url + path, headers=headers, timeout=30)

    # --- serving -------------------------------------------------------------------------

    def _answer(self, request: Received) -> tuple[int, str, bytes]:
        parts = urlsplit(request.path)
        if request.method == "POST":
            if parts.path == "/inbox" or (
                parts.path.endswith("/inbox") and parts.path.split("/")[2] in self.actors
            ):
                return 202, "application/json", b""
            return 404, "application/json", b'{"error":"not found"}'
        if parts.path == "/.well-known/webfinger":
            return self._webfinger(parse_qs(parts.query).get("resource", [""])[0])
        pieces = parts.path.split("/")
        if len(pieces) == 3 and pieces[1] == "users" and pieces[2] in self.actors:
            return 200, AS_JSON, orjson.dumps(self.actors[pieces[2]].document())
        if parts.path in self.objects:
            return 200, AS_JSON, orjson.dumps(self.objects[parts.path])
        return 404, "application/json", b'{"error":"not found"}'

    def _webfinger(self, resource: str) -> tuple[int, str, bytes]:
        name, _, domain = resource.removeprefix("acct:").partition("@")
        actor = self.actors.get(name)
        if actor is None or domain.lower() != self.domain:
            return 404, "application/json", b'{"error":"not found"}'
        document = {
            "subject": f"acct:{name}@{self.domain}",
            "aliases": [actor.uri],
            "links": [
                {"rel": "self", "type": AS_JSON, "href": actor.uri},
                {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html"},
            ],
        }
        return 200, "application/jrd+json", orjson.dumps(document)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with self._lock:
            self.connections += 1
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                request_line, *lines = head.split("\r\n")
                method, path, _ = request_line.split(" ", 2)
                headers = {}
                for line in lines:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                body = await reader.readexactly(length) if length else b""
                request = Received(method, path, headers, body)
                with self._lock:
                    self.received.append(request)
                status, content_type, answer = self._answer(request)
                writer.write(
                    f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\n"
                    f"Content-Length: {len(answer)}\r\n\r\n".encode()
                    + answer
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()


def _id_of(value: Any) -> Any:
    return value.get("id") if isinstance(value, dict) else value


@contextlib.contextmanager
def fake_node(host: str) -> Iterator[FakeNode]:
    """A FakeNode for `host` on a free loopback port, served from a thread of its own."""
    node = FakeNode(host, port=free_port())
    loop = asyncio.new_event_loop()
    started = threading.Event()
    stop = asyncio.Event()

    async def serve() -> None:
        server = await asyncio.start_server(node._serve, "127.0.0.1", node.port)
        async with server:
            started.set()
            await stop.wait()
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    if not started.wait(10):
        raise RuntimeError(f"the fake node {host} did not start")
    try:
        yield node
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


@contextlib.contextmanager
def node_named(tmp: Path, backend: str, host: str, **extra_env: str) -> Iterator[NamedNode]:
    """A real node whose PUBLIC_URL is http://<host>:<port> (reached on loopback)."""
    data_dir = tmp / f"{host}-{secrets.token_hex(3)}"
    data_dir.mkdir(parents=True)
    port = free_port()
    public_url = f"http://{host}:{port}"
    with contextlib.ExitStack() as stack:
        if backend == "postgres":
            url = stack.enter_context(postgres_database())
        else:
            url = f"sqlite+aiosqlite:///{data_dir / 'flurfunk.db'}"
        node = RunningNode(
            data_dir=data_dir,
            database_url=url,
            port=port,
            extra_env={"FLURFUNK_PUBLIC_URL": public_url, **extra_env},
        )
        node.start()
        try:
            yield NamedNode(node, public_url)
        finally:
            node.stop()
            shutil.rmtree(data_dir, ignore_errors=True)


@dataclass
class NamedNode:
    node: RunningNode
    public_url: str

    def actor_uri(self, user: User) -> str:
        return f"{self.public_url}/users/{user.name}"

    def handle(self, user: User) -> str:
        return f"{user.name}@{urlsplit(self.public_url).netloc}"
