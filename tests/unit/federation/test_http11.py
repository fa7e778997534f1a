"""The HTTP/1.1 transport against a real loopback server that answers in every legal framing."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import pytest

from federation.http11 import Http11Transport

Answer = Callable[[bytes], bytes]  # request head -> raw response bytes


@dataclass
class Server:
    """A loopback HTTP/1.1 server: each answer is raw bytes, so any framing can be sent."""

    answers: list[Answer | None]  # None: close the connection without answering
    port: int = 0
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    close_after_each: bool = False


async def _serve(
    server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    server.connections += 1
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    await reader.readexactly(int(line.split(b":")[1]))
            server.requests.append(head)
            answer = server.answers.pop(0)
            if answer is None:
                break
            writer.write(answer(head))
            await writer.drain()
            if server.close_after_each:
                break
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Server]]:
    servers: list[asyncio.Server] = []

    async def start(answers: list[Answer | None], **options: bool) -> Server:
        state = Server(answers, **options)
        server = await asyncio.start_server(lambda r, w: _serve(state, r, w), "127.0.0.1", 0)
        state.port = server.sockets[0].getsockname()[1]
        servers.append(server)
        return state

    yield start  # type: ignore[misc]
    for server in servers:
        server.close()
        await server.wait_closed()


def fixed(raw: bytes) -> Answer:
    return lambda head: raw


async def fetch(
    transport: Http11Transport, port: int, method: str = "GET", content: bytes | None = None
) -> tuple[int, bytes]:
    request = httpx.Request(method, f"http://127.0.0.1:{port}/x", content=content)
    response = await transport.handle_async_request(request)
    try:
        body = b"".join([chunk async for chunk in response.aiter_raw()])
    finally:
        await response.aclose()
    return response.status_code, body


@pytest.fixture
async def transport() -> AsyncIterator[Http11Transport]:
    made = Http11Transport(ssl_context=ssl.create_default_context(), per_host=4)
    yield made
    await made.aclose()


async def test_length_chunked_and_empty_bodies_share_one_connection(
    serve: Callable[..., Awaitable[Server]], transport: Http11Transport
) -> None:
    server = await serve(
        [
            fixed(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
            fixed(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: x\r\n\r\n"
            ),
            fixed(b"HTTP/1.1 204 No Content\r\n\r\n"),
            fixed(
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"
            ),
        ]
    )
    assert await fetch(transport, server.port) == (200, b"hello")
    assert await fetch(transport, server.port) == (200, b"abcde")
    assert await fetch(transport, server.port) == (204, b"")
    assert await fetch(transport, server.port, "POST", b"{}") == (202, b"")
    assert server.connections == 1


async def test_a_body_delimited_by_close_is_read_and_the_connection_not_reused(
    serve: Callable[..., Awaitable[Server]], transport: Http11Transport
) -> None:
    server = await serve(
        [fixed(b"HTTP/1.1 200 OK\r\n\r\nuntil the end"), fixed(b"HTTP/1.0 200 OK\r\n\r\nold")],
        close_after_each=True,
    )
    assert await fetch(transport, server.port) == (200, b"until the end")
    assert await fetch(transport, server.port) == (200, b"old")
    assert server.connections == 2


async def test_a_kept_connection_the_peer_closed_is_replaced_once(
    serve: Callable[..., Awaitable[Server]], transport: Http11Transport
) -> None:
    ok = fixed(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
    server = await serve([ok, None, ok])  # the second request finds the connection closing
    assert await fetch(transport, server.port, "POST", b"1") == (202, b"")
    assert await fetch(transport, server.port, "POST", b"2") == (202, b"")
    assert server.connections == 2
    assert len(server.requests) == 3


async def test_a_fresh_connection_closed_without_an_answer_is_an_error(
    serve: Callable[..., Awaitable[Server]], transport: Http11Transport
) -> None:
    server = await serve([None])
    with pytest.raises(httpx.RemoteProtocolError):
        await fetch(transport, server.port, "POST", b"x")


async def test_malformed_answers_are_protocol_errors(
    serve: Callable[..., Awaitable[Server]], transport: Http11Transport
) -> None:
    server = await serve(
        [
            fixed(b"SMTP ready\r\n\r\n"),
            fixed(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"),
            fixed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
            fixed(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"),
        ],
        close_after_each=True,
    )
    for _ in range(4):
        with pytest.raises(httpx.RemoteProtocolError):
            await fetch(transport, server.port)


async def test_connections_per_host_are_bounded(
    serve: Callable[..., Awaitable[Server]], transport: Http11Transport
) -> None:
    ok = fixed(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    server = await serve([ok] * 20)
    answers = await asyncio.gather(*(fetch(transport, server.port) for _ in range(20)))
    assert answers == [(200, b"ok")] * 20
    assert server.connections <= 4


async def test_header_values_cannot_smuggle_a_second_request(transport: Http11Transport) -> None:
    request = httpx.Request("GET", "http://127.0.0.1:9/x", headers={"x-a": "1"})
    request.headers["x-b"] = "ok\r\nGET /evil HTTP/1.1"
    with pytest.raises(httpx.LocalProtocolError):
        await transport.handle_async_request(request)


async def test_refused_connections_and_slow_peers_are_httpx_errors(
    serve: Callable[..., Awaitable[Server]], transport: Http11Transport
) -> None:
    with pytest.raises(httpx.ConnectError):
        await fetch(transport, 9)

    server = await serve([lambda head: b""])  # says nothing
    request = httpx.Request(
        "GET",
        f"http://127.0.0.1:{server.port}/x",
        extensions={"timeout": {"connect": 1, "read": 0.2, "write": 1, "pool": 1}},
    )
    with pytest.raises(httpx.ReadTimeout):
        await transport.handle_async_request(request)
