"""A fake remote node for the ingest benchmark.

It has one actor with an RSA key, serves that actor's document over HTTP on loopback (so the
node under test can fetch the key, as it would from a real peer routed by CONNECT_TO), and
signs Create activities with the key the way federation.httpsig_sign.sign_request does (cavage,
rsa-sha256). Signing happens before the clock starts — it is the sender's cost, not ours —
on every core at once, and produces complete HTTP/1.1 requests ready to be written.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from federation.httpsig_sign import sign_request
from federation.keys import generate_rsa_keypair, load_private_key

AS_CONTEXT = [
    "https://www.w3.org/ns/activitystreams",
    "https://w3id.org/security/v1",
    {
        "toot": "http://joinmastodon.org/ns#",
        "sensitive": "as:sensitive",
        "Hashtag": "as:Hashtag",
        "blurhash": "toot:blurhash",
    },
]
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
TEXT = (
    "<p>Quarterly numbers are in: the sales team closed the Hamburg deal and the "
    "logistics pilot starts next month. Details in the wiki, questions to "
    '<span class="h-card"><a href="http://remote.flurfunk.test/@lena" class="u-url mention">'
    '@<span>lena</span></a></span>. <a href="http://remote.flurfunk.test/tags/sales" '
    'class="mention hashtag" rel="tag">#<span>sales</span></a></p>'
)


@dataclass(frozen=True)
class FakeRemote:
    host: str
    private_pem: str
    public_pem: str
    name: str = "sender"

    @classmethod
    def generate(cls, host: str = "remote.flurfunk.test") -> FakeRemote:
        private_pem, public_pem = generate_rsa_keypair()
        return cls(host, private_pem, public_pem)

    @property
    def actor_uri(self) -> str:
        return f"http://{self.host}/users/{self.name}"

    @property
    def key_id(self) -> str:
        return self.actor_uri + "#main-key"

    def actor_document(self) -> dict[str, object]:
        actor = self.actor_uri
        return {
            "@context": AS_CONTEXT,
            "id": actor,
            "type": "Person",
            "preferredUsername": self.name,
            "name": "Bench Sender",
            "summary": "",
            "url": f"http://{self.host}/@{self.name}",
            "inbox": actor + "/inbox",
            "outbox": actor + "/outbox",
            "followers": actor + "/followers",
            "following": actor + "/following",
            "endpoints": {"sharedInbox": f"http://{self.host}/inbox"},
            "manuallyApprovesFollowers": False,
            "publicKey": {"id": self.key_id, "owner": actor, "publicKeyPem": self.public_pem},
        }

    def create_activity(self, run: str, n: int) -> bytes:
        """A Mastodon-shaped public Create(Note) of ~1.5 KB with ids unique to (run, n)."""
        actor = self.actor_uri
        note = f"{actor}/statuses/{run}-{n}"
        published = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return orjson.dumps(
            {
                "@context": AS_CONTEXT,
                "id": note + "/activity",
                "type": "Create",
                "actor": actor,
                "published": published,
                "to": [PUBLIC],
                "cc": [actor + "/followers"],
                "object": {
                    "id": note,
                    "type": "Note",
                    "summary": None,
                    "inReplyTo": None,
                    "published": published,
                    "url": f"http://{self.host}/@{self.name}/{run}-{n}",
                    "attributedTo": actor,
                    "to": [PUBLIC],
                    "cc": [actor + "/followers"],
                    "sensitive": False,
                    "content": TEXT,
                    "contentMap": {"en": TEXT},
                    "attachment": [],
                    "tag": [
                        {
                            "type": "Hashtag",
                            "href": f"http://{self.host}/tags/sales",
                            "name": "#sales",
                        }
                    ],
                    "replies": {
                        "id": note + "/replies",
                        "type": "Collection",
                        "first": {"type": "CollectionPage", "items": []},
                    },
                },
            }
        )

    def signed_posts(self, authority: str, path: str, run: str, count: int) -> list[bytes]:
        """`count` complete HTTP/1.1 POST requests of distinct Create activities to
        http://{authority}{path}, signed on all cores."""
        cores = max(1, multiprocessing.cpu_count())
        chunks = [(start, min(count, start + 1000)) for start in range(0, count, 1000)]
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(cores, mp_context=context) as pool:
            parts = pool.map(
                _sign_range,
                [(self, authority, path, run, start, stop) for start, stop in chunks],
            )
            return [request for part in parts for request in part]

    def signed_post(self, authority: str, path: str, body: bytes) -> bytes:
        url = f"http://{authority}{path}"
        headers = sign_request(
            "POST",
            url,
            {"content-type": "application/activity+json"},
            self.key_id,
            load_private_key(self.private_pem),
            body,
        )
        headers["content-length"] = str(len(body))
        head = f"POST {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        return head.encode("latin-1") + b"\r\n" + body

    @contextmanager
    def serving(self) -> Iterator[int]:
        """Serve the actor document on a loopback port (in a thread) while the block runs."""
        documents = {
            f"/users/{self.name}": orjson.dumps(self.actor_document()),
        }
        port_box: list[int] = []
        started = threading.Event()
        loop = asyncio.new_event_loop()
        stop = asyncio.Event()

        async def main() -> None:
            server = await asyncio.start_server(
                lambda r, w: _answer(documents, r, w), "127.0.0.1", 0
            )
            port_box.append(server.sockets[0].getsockname()[1])
            started.set()
            async with server:
                await stop.wait()

        thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
        thread.start()
        started.wait(10)
        try:
            yield port_box[0]
        finally:
            loop.call_soon_threadsafe(stop.set)
            thread.join(10)
            loop.close()


def _sign_range(job: tuple[FakeRemote, str, str, str, int, int]) -> list[bytes]:
    remote, authority, path, run, start, stop = job
    return [
        remote.signed_post(authority, path, remote.create_activity(run, n))
        for n in range(start, stop)
    ]


async def _answer(
    documents: dict[str, bytes], reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """GET of a known path -> the document as activity+json; anything else -> 404."""
    try:
        while True:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            request_line, *lines = head.split("\r\n")
            method, target, _ = request_line.split(" ", 2)
            length = 0
            for line in lines:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            if length:
                await reader.readexactly(length)
            body = documents.get(target.split("?")[0]) if method == "GET" else None
            status = "200 OK" if body is not None else "404 Not Found"
            body = body or b'{"error":"not found"}'
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: application/activity+json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()
