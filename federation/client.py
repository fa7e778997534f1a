"""The one way out: every outbound HTTP request of the node goes through `FederationClient`.

It refuses any URL whose host the allowlist does not match — before connecting, and again on
every redirect hop — and connects only where the host resolves or where CONNECT_TO points
(the original host name still goes into Host, SNI and certificate verification). Each peer
host gets its own small keep-alive pool with bounded concurrency (federation.http11): httpx's
default pool scans every connection per request (encode/httpx#3215) and its client layer
(cookie jar, header merging) costs more than signing, so requests go straight to the transport.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from federation.allowlist import Allowlist, PatternError, url_host_port
from federation.http11 import Http11Transport
from federation.values import InvalidValue, authority, http_url

USER_AGENT = "Flurfunk/0.1.0"
MAX_REDIRECTS = 3
MAX_BODY = 4 << 20
ROUTES_KEPT = 4096


class NotAllowed(Exception):
    """The target host is not on the allowlist; nothing was sent."""

    def __init__(self, url: str) -> None:
        try:
            where = authority(url)
        except InvalidValue:
            where = repr(url[:100])
        super().__init__(f"federation with {where} is not allowed")
        self.url = url


class ResponseTooLarge(Exception):
    """The peer sent more than we are willing to read."""


@dataclass(frozen=True)
class Fetched:
    status: int
    headers: httpx.Headers
    body: bytes
    url: str  # after redirects


@dataclass(frozen=True)
class _Route:
    target: httpx.URL  # where to connect (CONNECT_TO applied)
    sni: str | None  # the original host name when CONNECT_TO applies
    netloc: str  # the original host[:port], for the Host header


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


class FederationClient:
    def __init__(
        self,
        allowlist: Callable[[], Allowlist],
        *,
        connect_to: Mapping[str, str] | None = None,
        ca_bundle: str | None = None,
        client_cert: tuple[str, str] | None = None,
        timeout: float = 10.0,
        per_host_connections: int = 16,
    ) -> None:
        self._allowlist = allowlist
        self._connect_to = {k.lower(): v for k, v in (connect_to or {}).items()}
        context = ssl.create_default_context(cafile=ca_bundle or None)
        if client_cert is not None:
            # Peers that require mutual TLS see this (certificate chain, private key).
            context.load_cert_chain(*client_cert)
        self._transport = Http11Transport(ssl_context=context, per_host=per_host_connections)
        self._timeout = httpx.Timeout(timeout, connect=min(timeout, 5.0)).as_dict()
        self._routes: dict[str, _Route] = {}

    def allowed(self, url: str) -> bool:
        try:
            http_url(url)
        except InvalidValue:
            return False
        return self._allowlist().allows_url(url)

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

    def _parsed_route(self, url: str) -> _Route:
        """`_route` with the target parsed, remembered per URL: deliveries go to the same
        few inboxes again and again, and parsing a URL costs as much as sending on a
        kept-alive connection."""
        route = self._routes.get(url)
        if route is None:
            target, sni = self._route(url)
            if len(self._routes) >= ROUTES_KEPT:
                self._routes.clear()
            route = self._routes[url] = _Route(httpx.URL(target), sni, urlsplit(url).netloc)
        return route

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
            route = self._parsed_route(url)
            send_headers = {"user-agent": USER_AGENT, **(headers or {})}
            send_headers["host"] = route.netloc
            if sign is not None:
                send_headers = sign(method, url, send_headers, content)
            extensions: dict[str, object] = {"timeout": self._timeout}
            if route.sni:
                extensions["sni_hostname"] = route.sni
            request = httpx.Request(
                method, route.target, headers=send_headers, content=content, extensions=extensions
            )
            response = await self._transport.handle_async_request(request)
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
        await self._transport.aclose()


async def _read_capped(response: httpx.Response, limit: int) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise ResponseTooLarge(f"{declared} bytes announced, at most {limit} accepted")
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise ResponseTooLarge(f"more than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
