"""A lean HTTP/1.1 transport for httpx: one keep-alive pool per origin, no pool scans.

httpcore's pool examines every connection and queued request whenever one changes state
(encode/httpx#3215) and h11 parses in pure Python; with httpx's client layer on top (cookie
jar, header merging) a process managed only a few hundred signed POSTs per second. Federation
traffic is plain — small bodies both ways, HTTP/1.1 — so this transport speaks it directly:
each origin has a semaphore bounding its connections (waiting requests queue on it, FIFO)
and a LIFO stack of idle keep-alive connections, so picking a connection costs O(1).

Responses are streamed (the caller caps their size); a connection goes back to its pool
only after its response body was read completely and the peer allows keep-alive.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx

HEAD_LIMIT = 64 << 10  # a response head larger than this is refused
READ_CHUNK = 64 << 10
KEEPALIVE_EXPIRY = 30.0  # seconds an idle connection is kept
MAX_INTERIM = 8  # 1xx answers skipped before the real one
Origin = tuple[str, str, int, str | None]  # scheme, host, port, TLS server name


@dataclass(eq=False)
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float = 0.0

    def usable(self, now: float) -> bool:
        """Still open (the peer has not closed it while idle) and not idle for too long."""
        return (
            not self.writer.is_closing()
            and not self.reader.at_eof()
            and now - self.idle_since < KEEPALIVE_EXPIRY
        )

    def close(self) -> None:
        self.writer.close()


@dataclass(eq=False)
class _Pool:
    slots: asyncio.Semaphore
    idle: list[_Connection] = field(default_factory=list)


def _timeouts(request: httpx.Request) -> dict[str, float | None]:
    value = request.extensions.get("timeout")
    return value if isinstance(value, dict) else {}


def _parse_head(head: bytes) -> tuple[bytes, int, bytes, list[tuple[bytes, bytes]]]:
    """(version, status, reason, headers) of a response head ending in CRLF CRLF."""
    lines = head[:-4].split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or parts[0] not in (b"HTTP/1.1", b"HTTP/1.0"):
        raise httpx.RemoteProtocolError(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
    if len(parts[1]) != 3 or not parts[1].isdigit():
        raise httpx.RemoteProtocolError(f"bad status code {parts[1][:10]!r}")
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        # Obsolete line folding and whitespace before the colon are refused (RFC 9112 §5).
        if not colon or not name or name != name.strip() or line[:1] in (b" ", b"\t"):
            raise httpx.RemoteProtocolError(f"malformed header line {line[:80]!r}")
        headers.append((name, value.strip(b" \t")))
    return parts[0], int(parts[1]), parts[2] if len(parts) == 3 else b"", headers


def _values(headers: list[tuple[bytes, bytes]], name: bytes) -> list[bytes]:
    return [
        item.strip().lower()
        for key, value in headers
        if key.lower() == name
        for item in value.split(b",")
        if item.strip()
    ]


@dataclass
class _Framing:
    length: int | None  # None: chunked or until close
    chunked: bool
    keep_alive: bool


def _framing(
    method: str, version: bytes, status: int, headers: list[tuple[bytes, bytes]]
) -> _Framing:
    """How the body is delimited (RFC 9112 §6.3) and whether the connection may be reused."""
    reusable = version == b"HTTP/1.1" and b"close" not in _values(headers, b"connection")
    if method == "HEAD" or status in (204, 304):
        return _Framing(0, False, reusable)
    codings = _values(headers, b"transfer-encoding")
    if codings:
        if codings[-1] == b"chunked":
            return _Framing(None, True, reusable)
        return _Framing(None, False, False)  # read until the peer closes
    lengths = set(_values(headers, b"content-length"))
    if lengths:
        if len(lengths) != 1 or not next(iter(lengths)).isdigit():
            raise httpx.RemoteProtocolError("invalid Content-Length")
        return _Framing(int(next(iter(lengths))), False, reusable)
    return _Framing(None, False, False)


class _Body(httpx.AsyncByteStream):
    """The response body, read from the connection as the caller iterates."""

    def __init__(
        self,
        transport: Http11Transport,
        pool: _Pool,
        connection: _Connection,
        framing: _Framing,
        read_timeout: float | None,
    ) -> None:
        self._transport = transport
        self._pool = pool
        self._connection = connection
        self._framing = framing
        self._timeout = read_timeout
        self._complete = framing.length == 0
        self._closed = False

    async def _read(self, n: int) -> bytes:
        async with asyncio.timeout(self._timeout):
            return await self._connection.reader.read(n)

    async def _exactly(self, n: int) -> bytes:
        async with asyncio.timeout(self._timeout):
            return await self._connection.reader.readexactly(n)

    async def _line(self) -> bytes:
        async with asyncio.timeout(self._timeout):
            return await self._connection.reader.readuntil(b"\r\n")

    async def _chunks(self) -> AsyncIterator[bytes]:
        framing = self._framing
        if framing.length is not None:
            remaining = framing.length
            while remaining:
                data = await self._read(min(remaining, READ_CHUNK))
                if not data:
                    raise httpx.RemoteProtocolError("the peer closed before the body ended")
                remaining -= len(data)
                yield data
        elif framing.chunked:
            while True:
                size_text = (await self._line())[:-2].split(b";", 1)[0].strip()
                try:
                    size = int(size_text, 16)
                except ValueError:
                    raise httpx.RemoteProtocolError("bad chunk size") from None
                if size == 0:
                    while await self._line() != b"\r\n":  # trailers
                        pass
                    break
                yield await self._exactly(size)
                if await self._exactly(2) != b"\r\n":
                    raise httpx.RemoteProtocolError("a chunk does not end with CRLF")
        else:
            while data := await self._read(READ_CHUNK):
                yield data
        self._complete = True

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._chunks():
                yield chunk
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            raise httpx.RemoteProtocolError(f"incomplete response body: {exc}") from None
        except TimeoutError:
            raise httpx.ReadTimeout("timed out reading the response body") from None
        except OSError as exc:
            raise httpx.ReadError(str(exc)) from None

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._transport._release(
            self._pool, self._connection, reuse=self._complete and self._framing.keep_alive
        )


class Http11Transport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over pooled keep-alive connections, at most `per_host` per origin.

    A request may carry the `sni_hostname` extension: the connection then goes to the URL's
    address while TLS sends and verifies that name (this is how CONNECT_TO works).
    """

    def __init__(self, *, ssl_context: ssl.SSLContext, per_host: int = 16) -> None:
        self._ssl = ssl_context
        self._per_host = per_host
        self._pools: dict[Origin, _Pool] = {}
        self._closed = False

    def _pool(self, origin: Origin) -> _Pool:
        pool = self._pools.get(origin)
        if pool is None:
            pool = self._pools[origin] = _Pool(asyncio.Semaphore(self._per_host))
        return pool

    async def _connect(self, origin: Origin, seconds: float | None) -> _Connection:
        scheme, host, port, server_name = origin
        tls = self._ssl if scheme == "https" else None
        try:
            async with asyncio.timeout(seconds):
                reader, writer = await asyncio.open_connection(
                    host,
                    port,
                    ssl=tls,
                    server_hostname=(server_name or host) if tls else None,
                    limit=HEAD_LIMIT,
                )
        except TimeoutError:
            raise httpx.ConnectTimeout(f"connecting to {host}:{port} timed out") from None
        except OSError as exc:  # refused, unreachable, TLS failures (ssl.SSLError is an OSError)
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from None
        return _Connection(reader, writer)

    def _release(self, pool: _Pool, connection: _Connection, *, reuse: bool) -> None:
        if reuse and not self._closed and not connection.writer.is_closing():
            now = time.monotonic()
            # The stack's bottom holds the longest idle: close those the peer closed or that
            # idled too long, so sockets do not pile up.
            while pool.idle and not pool.idle[0].usable(now):
                pool.idle.pop(0).close()
            connection.idle_since = now
            pool.idle.append(connection)
        else:
            connection.close()
        pool.slots.release()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise RuntimeError("the transport is closed")
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"unsupported scheme {url.scheme!r}")
        server_name = request.extensions.get("sni_hostname")
        origin: Origin = (
            url.scheme,
            url.host,
            url.port or (443 if url.scheme == "https" else 80),
            server_name if isinstance(server_name, str) else None,
        )
        timeouts = _timeouts(request)
        pool = self._pool(origin)
        try:
            async with asyncio.timeout(timeouts.get("pool")):
                await pool.slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout("no free connection to the peer in time") from None
        try:
            return await self._exchange(request, origin, pool, timeouts)
        except BaseException:
            pool.slots.release()
            raise

    async def _exchange(
        self,
        request: httpx.Request,
        origin: Origin,
        pool: _Pool,
        timeouts: dict[str, float | None],
    ) -> httpx.Response:
        """Send on an idle connection (or a new one); retry once on a fresh connection when a
        reused one turns out to have been closed by the peer before answering."""
        message = _serialise(request, await request.aread())
        connection = self._idle_connection(pool)
        reused = connection is not None
        for _ in range(2):
            if connection is None:
                connection = await self._connect(origin, timeouts.get("connect"))
            try:
                return await self._send(request, message, pool, connection, timeouts)
            except _Stale:
                connection.close()
                connection = None
                if not reused:
                    break
                reused = False
            except BaseException:
                connection.close()
                raise
        if origin[0] == "https":
            # asyncio reports a TLS 1.3 "certificate required" alert as a plain close.
            raise httpx.RemoteProtocolError(
                "the peer closed the TLS connection without answering "
                "(it may require a client certificate: TLS_CLIENT_CERT)"
            )
        raise httpx.RemoteProtocolError("the peer closed the connection without answering")

    @staticmethod
    def _idle_connection(pool: _Pool) -> _Connection | None:
        now = time.monotonic()
        while pool.idle:
            connection = pool.idle.pop()
            if connection.usable(now):
                return connection
            connection.close()
        return None

    async def _send(
        self,
        request: httpx.Request,
        message: bytes,
        pool: _Pool,
        connection: _Connection,
        timeouts: dict[str, float | None],
    ) -> httpx.Response:
        try:
            connection.writer.write(message)
            async with asyncio.timeout(timeouts.get("write")):
                await connection.writer.drain()
        except TimeoutError:
            raise httpx.WriteTimeout("timed out sending the request") from None
        except OSError:
            raise _Stale from None
        read_timeout = timeouts.get("read")
        for _ in range(MAX_INTERIM + 1):
            head = await _read_head(connection.reader, read_timeout)
            version, status, reason, headers = _parse_head(head)
            if status == 101:
                raise httpx.RemoteProtocolError("unexpected protocol switch")
            if status >= 200:
                break
        else:
            raise httpx.RemoteProtocolError("too many interim (1xx) responses")
        framing = _framing(request.method, version, status, headers)
        body = _Body(self, pool, connection, framing, read_timeout)
        return httpx.Response(
            status,
            headers=headers,
            stream=body,
            request=request,
            extensions={"http_version": version, "reason_phrase": reason},
        )

    async def aclose(self) -> None:
        self._closed = True
        for pool in self._pools.values():
            for connection in pool.idle:
                connection.close()
            pool.idle.clear()
        self._pools.clear()


class _Stale(Exception):
    """A reused connection was closed by the peer before any answer arrived."""


async def _read_head(reader: asyncio.StreamReader, seconds: float | None) -> bytes:
    try:
        async with asyncio.timeout(seconds):
            return await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            raise _Stale from None
        raise httpx.RemoteProtocolError("the peer closed inside the response head") from None
    except asyncio.LimitOverrunError:
        raise httpx.RemoteProtocolError("the response head is too large") from None
    except TimeoutError:
        raise httpx.ReadTimeout("timed out waiting for the response") from None
    except (ConnectionResetError, BrokenPipeError):
        raise _Stale from None
    except OSError as exc:
        raise httpx.ReadError(str(exc)) from None


def _serialise(request: httpx.Request, body: bytes) -> bytes:
    target = request.url.raw_path
    lines = [request.method.encode("ascii") + b" " + target + b" HTTP/1.1"]
    for name, value in request.headers.raw:
        # Header values built from remote documents must not smuggle a second request.
        if b"\r" in value or b"\n" in value or b"\0" in value:
            raise httpx.LocalProtocolError(f"illegal character in header {name!r}")
        lines.append(name + b": " + value)
    return b"\r\n".join(lines) + b"\r\n\r\n" + body
