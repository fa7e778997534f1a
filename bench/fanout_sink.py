"""The remote nodes of the fan-out benchmark: one process on one loopback port that stands in
for many hosts (CONNECT_TO routes them all here; the Host header says which one was meant).

Every POST is checked as a receiving inbox would check it — the Digest matches the body and
the cavage signature verifies with the author's public key under the expected key id — then
answered 202 (401 when the check fails) and recorded with the moment of its answer on the
system-wide monotonic clock, which the benchmark process reads too.

Control requests (the benchmark's own, Host 127.0.0.1): `POST /_expect` with
`{"key_id": …, "public_key_pem": …}` sets who must have signed; `GET /_deliveries` returns
the deliveries recorded since the last call and forgets them.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any, cast

import httpx
import orjson

from bench.ingest import ROOT, _wait_for_port
from federation.httpsig_base import SignatureError
from federation.httpsig_verify import body_digest_matches, parse, verify
from federation.keys import PublicKey, load_public_key
from tests.kit import free_port

ACCEPTED = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"
REFUSED = b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"


@dataclass
class Arrival:
    host: str
    path: str
    activity_id: str
    signed: bool  # a Signature header was present
    verified: bool  # ... and it verified with the expected key, over a matching digest
    at: float  # time.monotonic() when the answer was written


class Recorder:
    def __init__(self) -> None:
        self.arrivals: list[Arrival] = []
        self.key_id = ""
        self.key: PublicKey | None = None

    def control(self, method: str, path: str, body: bytes) -> bytes:
        if method == "POST" and path == "/_expect":
            expected = orjson.loads(body)
            self.key_id = expected["key_id"]
            self.key = load_public_key(expected["public_key_pem"])
            self.arrivals.clear()
            return ACCEPTED
        if method == "GET" and path == "/_deliveries":
            payload = orjson.dumps([asdict(a) for a in self.arrivals])
            self.arrivals.clear()
            head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(payload)}\r\n"
            return head.encode() + b"Content-Type: application/json\r\n\r\n" + payload
        return b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"

    def deliver(self, path: str, headers: dict[str, str], body: bytes) -> bytes:
        host = headers.get("host", "")
        verified = False
        try:
            parsed = parse("POST", f"http://{host}{path}", headers)
            if self.key is not None and parsed.key_id == self.key_id:
                verify(parsed, self.key)
                verified = "digest" in parsed.covered and body_digest_matches(headers, body) is True
        except SignatureError:
            pass
        try:
            activity_id = str(orjson.loads(body).get("id", ""))
        except (orjson.JSONDecodeError, AttributeError):
            activity_id = ""
        self.arrivals.append(
            Arrival(host, path, activity_id, "signature" in headers, verified, time.monotonic())
        )
        return ACCEPTED if verified else REFUSED


class _Protocol(asyncio.Protocol):
    """HTTP/1.1 with Content-Length bodies over keep-alive connections; nothing more."""

    def __init__(self, sink: Recorder) -> None:
        self.sink = sink
        self.buffer = b""
        self.head: tuple[str, str, dict[str, str]] | None = None
        self.body_left = 0
        self.transport: asyncio.WriteTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.WriteTransport, transport)  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if self.head is None:
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                lines = self.buffer[:end].decode("latin-1").split("\r\n")
                self.buffer = self.buffer[end + 4 :]
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                self.head = (method, path, headers)
                self.body_left = int(headers.get("content-length", "0"))
            if len(self.buffer) < self.body_left:
                return
            body, self.buffer = self.buffer[: self.body_left], self.buffer[self.body_left :]
            method, path, headers = self.head
            self.head = None
            if headers.get("host", "").startswith("127.0.0.1"):
                answer = self.sink.control(method, path, body)
            else:
                answer = self.sink.deliver(path, headers, body)
            assert self.transport is not None
            self.transport.write(answer)


async def serve(port: int) -> None:
    sink = Recorder()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Protocol(sink), "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


# --- the benchmark's side -------------------------------------------------------------------


class Sink:
    """bench/fanout_sink.py in a process of its own, and its control requests."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.fanout_sink", str(self.port)], cwd=ROOT
        )
        _wait_for_port(self.port, self.process)
        self.control = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=10)

    def expect(self, key_id: str, public_key_pem: str) -> None:
        body = orjson.dumps({"key_id": key_id, "public_key_pem": public_key_pem})
        self.control.post("/_expect", content=body).raise_for_status()

    def arrivals(self) -> list[dict[str, Any]]:
        answer = self.control.get("/_deliveries")
        answer.raise_for_status()
        arrived: list[dict[str, Any]] = answer.json()
        return arrived

    def stop(self) -> None:
        self.control.close()
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def main(argv: list[str]) -> Any:
    if len(argv) != 2 or not argv[1].isdigit():
        sys.exit("usage: python -m bench.fanout_sink PORT (the fan-out benchmark starts it)")
    try:
        import uvloop
    except ImportError:
        return asyncio.run(serve(int(argv[1])))
    return uvloop.run(serve(int(argv[1])))


if __name__ == "__main__":
    main(sys.argv)
