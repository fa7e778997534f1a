"""A fake remote node: a small real HTTP/1.1 server on loopback that records every request and
answers whatever a test tells it to, per path — including misbehaving on purpose."""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Answer:
    status: int = 202
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass
class FakePeer:
    port: int = 0
    connections: int = 0
    received: list[Received] = field(default_factory=list)
    answers: dict[str, Answer] = field(default_factory=dict)
    default: Answer = field(default_factory=Answer)
    # Cleared by `hold`: requests are recorded but not answered (a hung peer). A thread's
    # event, since tests run the peer's loop in another thread (federation_kit.peer_in_thread).
    answering: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.answering.set()

    def hold(self) -> None:
        self.answering.clear()

    def release(self) -> None:
        self.answering.set()

    def answer(self, path: str, status: int, body: bytes = b"", **headers: str) -> None:
        self.answers[path] = Answer(
            status, {k.replace("_", "-"): v for k, v in headers.items()}, body
        )

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
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
                self.received.append(Received(method, path, headers, body))
                while not await asyncio.to_thread(self.answering.wait, 0.5):
                    pass
                answer = self.answers.get(path.split("?")[0], self.default)
                extra = "".join(f"{k}: {v}\r\n" for k, v in answer.headers.items())
                writer.write(
                    f"HTTP/1.1 {answer.status} X\r\nContent-Length: {len(answer.body)}"
                    f"\r\n{extra}\r\n".encode()
                    + answer.body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def fake_peer(tls: ssl.SSLContext | None = None) -> AsyncIterator[FakePeer]:
    peer = FakePeer()
    server = await asyncio.start_server(peer._serve, "127.0.0.1", 0, ssl=tls)
    peer.port = server.sockets[0].getsockname()[1]
    async with server:
        yield peer
