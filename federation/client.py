"""The one way out: every outbound HTTP request of the node goes through `FederationClient`.

It refuses any URL whose host the allowlist does not match — before connecting, and again on
every redirect hop — and connects only where the host resolves or where CONNECT_TO points
(the original host name still goes into Host, SNI and certificate verification). Each peer
host gets its own small keep-alive pool: httpcore scans every pooled connection per request,
so one big shared pool slows down as the number of peers grows (encode/httpx#3215).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from federation.allowlist import Allowlist, PatternError, url_host_port

USER_AGENT = "Flurfunk/0.1.0"
MAX_REDIRECTS = 3
MAX_BODY = 4 << 20


class NotAllowed(Exception):
    """The target host is not on the allowlist; nothing was sent."""

    def __init__(self, url: str) -> None:
        super().__init__(f"federation with {urlsplit(url).netloc or url!r} is not allowed")
        self.url = url


class ResponseTooLarge(Exception):
    """The peer sent more than we are willing to read."""


@dataclass(frozen=True)
class Fetched:
    status: int
    headers: httpx.Headers
    body: bytes
    url: str  # after redirects


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


class FederationClient:
    def __init__(
        self,
        allowlist: Callable[[], Allowlist],
        *,
        connect_to: Mapping[str, str] | None = None,
        ca_bundle: str | None = None,
        timeout: float = 10.0,
        per_host_connections: int = 16,
    ) -> None:
        self._allowlist = allowlist
        self._connect_to = {k.lower(): v for k, v in (connect_to or {}).items()}
        self._verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=ca_bundle) if ca_bundle else True
        )
        self._timeout = httpx.Timeout(timeout, connect=min(timeout, 5.0))
        self._limits = httpx.Limits(
            max_connections=per_host_connections, max_keepalive_connections=per_host_connections
        )
        self._clients: dict[tuple[str, str], httpx.AsyncClient] = {}
        self._lock = asyncio.Lock()

    def allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and self._allowlist().allows_url(url)

    def _route(self, url: str) -> tuple[str, str | None]:
        """The URL to connect to, and the SNI name when CONNECT_TO redirects the connection."""
        parts = urlsplit(url)
        host, port = url_host_port(url)
        port = port or _default_port(parts.scheme)
        # A CONNECT_TO entry with a port applies to that port only, one without to every port.
        target = self._connect_to.get(f"{host}:{port}") or self._connect_to.get(host)
        if target is None:
            return url, None
        return urlunsplit((parts.scheme, target, parts.path or "/", parts.query, "")), host

    async def _client_for(self, scheme: str, netloc: str) -> httpx.AsyncClient:
        key = (scheme, netloc)
        client = self._clients.get(key)
        if client is None:
            async with self._lock:
                client = self._clients.get(key)
                if client is None:
                    client = httpx.AsyncClient(
                        verify=self._verify,
                        timeout=self._timeout,
                        limits=self._limits,
                        follow_redirects=False,
                        trust_env=False,
                        headers={"User-Agent": USER_AGENT},
                    )
                    self._clients[key] = client
        return client

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        sign: Callable[[str, str, dict[str, str], bytes | None], dict[str, str]] | None = None,
        max_body: int = MAX_BODY,
    ) -> Fetched:
        """Send one request (following up to 3 redirects, each hop allowlisted and re-signed)."""
        for _ in range(MAX_REDIRECTS + 1):
            try:
                if not self.allowed(url):
                    raise NotAllowed(url)
            except PatternError:
                raise NotAllowed(url) from None
            send_headers = dict(headers or {})
            send_headers["host"] = urlsplit(url).netloc
            if sign is not None:
                send_headers = sign(method, url, send_headers, content)
            target, sni = self._route(url)
            parts = urlsplit(target)
            client = await self._client_for(parts.scheme, parts.netloc)
            extensions = {"sni_hostname": sni} if sni and parts.scheme == "https" else {}
            request = client.build_request(
                method, target, headers=send_headers, content=content, extensions=extensions
            )
            response = await client.send(request, stream=True)
            try:
                if response.is_redirect and "location" in response.headers:
                    url = str(httpx.URL(url).join(response.headers["location"]))
                    if response.status_code in (301, 302, 303):
                        method, content = "GET", None
                    continue
                body = await _read_capped(response, max_body)
            finally:
                await response.aclose()
            return Fetched(response.status_code, response.headers, body, url)
        raise httpx.TooManyRedirects(f"more than {MAX_REDIRECTS} redirects", request=request)

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()


async def _read_capped(response: httpx.Response, limit: int) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ResponseTooLarge(f"{declared} bytes announced, at most {limit} accepted")
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise ResponseTooLarge(f"more than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
