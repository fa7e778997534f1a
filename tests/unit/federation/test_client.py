"""The outbound chokepoint: refused hosts never see a connection; CONNECT_TO and TLS work."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
import trustme

from federation.allowlist import Allowlist
from federation.client import FederationClient, NotAllowed


@dataclass
class Peer:
    """A tiny real HTTP/1.1 server that records what reached it."""

    port: int = 0
    connections: int = 0
    requests: list[str] = field(default_factory=list)
    redirect_to: str | None = None


async def _serve(peer: Peer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    peer.connections += 1
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            text = head.decode("latin-1")
            peer.requests.append(text)
            length = next(
                (
                    int(line.split(":")[1])
                    for line in text.split("\r\n")
                    if line.lower().startswith("content-length:")
                ),
                0,
            )
            if length:
                await reader.readexactly(length)
            if peer.redirect_to:
                writer.write(
                    f"HTTP/1.1 302 Found\r\nLocation: {peer.redirect_to}\r\n"
                    "Content-Length: 0\r\n\r\n".encode()
                )
            else:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


@pytest.fixture
async def peer() -> AsyncIterator[Peer]:
    state = Peer()
    server = await asyncio.start_server(lambda r, w: _serve(state, r, w), "127.0.0.1", 0)
    state.port = server.sockets[0].getsockname()[1]
    async with server:
        yield state


async def test_disallowed_host_is_refused_without_a_connection(peer: Peer) -> None:
    client = FederationClient(
        lambda: Allowlist(["hq.flurfunk.test"]),
        connect_to={"evil.flurfunk.test": f"127.0.0.1:{peer.port}"},
    )
    with pytest.raises(NotAllowed):
        await client.request("GET", "http://evil.flurfunk.test/users/x")
    with pytest.raises(NotAllowed):
        await client.request("GET", "file:///etc/passwd")
    await client.aclose()
    assert peer.connections == 0


async def test_connect_to_keeps_the_host_name_and_reuses_the_connection(peer: Peer) -> None:
    client = FederationClient(
        lambda: Allowlist(["hq.flurfunk.test"]),
        connect_to={"hq.flurfunk.test": f"127.0.0.1:{peer.port}"},
    )
    for _ in range(3):
        fetched = await client.request("POST", "http://hq.flurfunk.test/inbox", content=b"{}")
        assert fetched.status == 200
    await client.aclose()
    assert peer.connections == 1  # keep-alive
    assert all("host: hq.flurfunk.test" in r.lower() for r in peer.requests)


async def test_redirect_to_a_disallowed_host_is_refused(peer: Peer) -> None:
    peer.redirect_to = "http://evil.flurfunk.test/steal"
    client = FederationClient(
        lambda: Allowlist(["hq.flurfunk.test"]),
        connect_to={
            "hq.flurfunk.test": f"127.0.0.1:{peer.port}",
            "evil.flurfunk.test": f"127.0.0.1:{peer.port}",
        },
    )
    with pytest.raises(NotAllowed):
        await client.request("GET", "http://hq.flurfunk.test/users/ada")
    await client.aclose()
    assert len(peer.requests) == 1  # the redirect was never followed


async def test_allowlist_changes_take_effect_on_the_next_request(peer: Peer) -> None:
    patterns = ["hq.flurfunk.test"]
    client = FederationClient(
        lambda: Allowlist(patterns), connect_to={"hq.flurfunk.test": f"127.0.0.1:{peer.port}"}
    )
    assert (await client.request("GET", "http://hq.flurfunk.test/")).status == 200
    patterns.clear()
    with pytest.raises(NotAllowed):
        await client.request("GET", "http://hq.flurfunk.test/")
    await client.aclose()


@pytest.fixture
async def tls_peer(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Peer, str]]:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("hq.flurfunk.test").configure_cert(context)
    bundle = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    state = Peer()
    server = await asyncio.start_server(
        lambda r, w: _serve(state, r, w), "127.0.0.1", 0, ssl=context
    )
    state.port = server.sockets[0].getsockname()[1]
    async with server:
        yield state, str(bundle)


async def test_tls_verifies_the_original_host_against_the_company_ca(
    tls_peer: tuple[Peer, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    peer, bundle = tls_peer
    route = {"hq.flurfunk.test": f"127.0.0.1:{peer.port}"}
    trusting = FederationClient(
        lambda: Allowlist(["hq.flurfunk.test"]), connect_to=route, ca_bundle=bundle
    )
    assert (await trusting.request("GET", "https://hq.flurfunk.test/")).status == 200
    await trusting.aclose()

    other_ca = tmp_path_factory.mktemp("other") / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    distrusting = FederationClient(
        lambda: Allowlist(["hq.flurfunk.test"]), connect_to=route, ca_bundle=str(other_ca)
    )
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        await distrusting.request("GET", "https://hq.flurfunk.test/")
    await distrusting.aclose()
    assert len(peer.requests) == 1  # the untrusted handshake never carried a request
