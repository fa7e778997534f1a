"""Mutual TLS between real nodes: sales serves with FLURFUNK_TLS_REQUIRE_CLIENT_CERT, so the
handshake itself wants a client certificate from the company CA. hq presents one
(FLURFUNK_TLS_CLIENT_CERT/KEY) and federates with sales as usual; dev has none, and another
node shows one from a foreign CA: their deliveries to sales fail and sales keeps no trace."""

from __future__ import annotations

import os
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trustme

from tests.federation_kit import (
    Network,
    Plan,
    Tls,
    arrives,
    delivery_summary,
    follows,
    in_home,
    network,
    post,
    wait_for,
)
from tests.integration.test_federation_tls import tls_files
from tests.kit import FLURFUNK

REQUIRE = {"FLURFUNK_TLS_REQUIRE_CLIENT_CERT": "true"}


def client_cert(directory: Path, ca: trustme.CA, host: str) -> tuple[Path, Path]:
    """A client certificate for `host` from `ca`: (certificate chain, private key)."""
    directory.mkdir(parents=True, exist_ok=True)
    issued = ca.issue_cert(host)
    certfile, keyfile = directory / "client-cert.pem", directory / "client-key.pem"
    certfile.write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
    keyfile.write_bytes(issued.private_key_pem.bytes())
    return certfile, keyfile


def with_client_cert(tls: Tls, ca: trustme.CA, host: str) -> Tls:
    tls.client_certfile, tls.client_keyfile = client_cert(tls.keyfile.parent, ca, host)
    return tls


@pytest.fixture(scope="module")
def company_ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, Path]:
    ca = trustme.CA(organization_name="Flurfunk Company CA")
    path = tmp_path_factory.mktemp("company-ca") / "company-ca.pem"
    path.write_bytes(ca.cert_pem.bytes())
    return ca, path


@pytest.fixture(scope="module")
def net(
    tmp_path_factory: pytest.TempPathFactory, company_ca: tuple[trustme.CA, Path]
) -> Iterator[Network]:
    ca, bundle = company_ca
    certs = tmp_path_factory.mktemp("certs")

    def tls(name: str) -> Tls:
        return tls_files(certs / name, ca, bundle, f"{name}.flurfunk.test")

    plans = {
        # sales requires client certificates; it presents its own when it connects out.
        "sales": Plan(
            allow=("hq", "dev"),
            env=REQUIRE,
            tls=with_client_cert(tls("sales"), ca, "sales.flurfunk.test"),
        ),
        "hq": Plan(allow=("sales",), tls=with_client_cert(tls("hq"), ca, "hq.flurfunk.test")),
        "dev": Plan(allow=("sales",), tls=with_client_cert(tls("dev"), ca, "dev.flurfunk.test")),
    }
    with network(tmp_path_factory.mktemp("mtls"), "sqlite", plans) as running:
        yield running


def test_a_peer_with_a_company_client_certificate_federates(net: Network) -> None:
    sales, hq = net["sales"], net["hq"]
    bo, ada = sales.create_user("bo"), hq.create_user("ada")
    # bo's Follow goes to hq; hq's Accept and ada's post go to sales, which checks hq's cert.
    follows(sales, bo, hq, ada)
    sent = post(hq, ada, "Shown my badge at the door")
    assert arrives(sales, bo, sent["uri"])["account"]["acct"] == hq.handle(ada)


def test_a_peer_without_a_valid_client_certificate_leaves_no_trace(
    net: Network, tmp_path: Path
) -> None:
    sales, dev = net["sales"], net["dev"]
    bo, dz = sales.create_user("bo"), dev.create_user("dz")
    follows(sales, bo, dev, dz)
    arrives(sales, bo, post(dev, dz, "While my badge is valid")["uri"])
    assert dev.tls is not None

    def open_deliveries() -> int:
        summary = delivery_summary(dev, sales.host)
        return int(summary.get("pending", 0)) + int(summary.get("failed", 0))

    def refused_after_restart(
        client_cert: tuple[Path, Path] | None, text: str, expected: str
    ) -> None:
        dev.stop()
        assert dev.tls is not None
        dev.tls.client_certfile, dev.tls.client_keyfile = client_cert or (None, None)
        dev.start()
        before = sales.log_path.read_text()
        waiting = open_deliveries()
        sent = post(dev, dz, text)
        failing = wait_for(
            lambda: (s := delivery_summary(dev, sales.host)) and s["last error"] and s,
            f"dev's delivery to sales failing ({text})",
        )
        wait_for(lambda: open_deliveries() > waiting, f"dev's delivery of {text!r} open")
        assert failing["last error"].startswith(expected)
        assert in_home(sales, bo, sent["uri"]) is None
        assert sent["uri"] not in sales.deliveries()
        # Nothing of dev's attempt reached sales' log: no request line, no inbox error.
        assert sales.log_path.read_text()[len(before) :].count("inbox") == 0

    # TLS 1.3: the refusal comes after the client's handshake, as a close without an answer.
    closed = "RemoteProtocolError: the peer closed the TLS connection without answering"
    refused_after_restart(None, "Nobody checks my badge, do they?", closed)
    foreign = trustme.CA(organization_name="Not the company")
    refused_after_restart(
        client_cert(tmp_path / "foreign", foreign, dev.host),
        "A badge from the shop next door",
        closed,
    )


def test_a_client_without_a_company_certificate_gets_no_response(
    net: Network, company_ca: tuple[trustme.CA, Path], tmp_path: Path
) -> None:
    sales = net["sales"]
    _, bundle = company_ca
    bare = ssl.create_default_context(cafile=str(bundle))
    with pytest.raises((httpx.ReadError, httpx.ConnectError, httpx.RemoteProtocolError)):
        httpx.get(sales.url + "/livez", timeout=5, verify=bare)
    foreign = ssl.create_default_context(cafile=str(bundle))
    foreign.load_cert_chain(*client_cert(tmp_path, trustme.CA(), "stranger.flurfunk.test"))
    with pytest.raises((httpx.ReadError, httpx.ConnectError, httpx.RemoteProtocolError)):
        httpx.get(sales.url + "/livez", timeout=5, verify=foreign)
    assert httpx.get(sales.url + "/livez", timeout=5, verify=sales.verify).status_code == 200


def _serve(env: dict[str, str], *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FLURFUNK, "serve", "--port", "9", *options],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_require_client_cert_needs_a_ca_bundle_and_tls(
    tmp_path: Path, company_ca: tuple[trustme.CA, Path]
) -> None:
    _, bundle = company_ca
    env = {"FLURFUNK_DATA_DIR": str(tmp_path), **REQUIRE}
    without_bundle = _serve(env, "--ssl-certfile", str(bundle), "--ssl-keyfile", str(bundle))
    assert without_bundle.returncode == 2
    assert "TLS_REQUIRE_CLIENT_CERT: set CA_BUNDLE" in without_bundle.stderr
    assert "Traceback" not in without_bundle.stderr

    without_tls = _serve({**env, "FLURFUNK_CA_BUNDLE": str(bundle)})
    assert without_tls.returncode == 2
    assert "--ssl-certfile and --ssl-keyfile" in without_tls.stderr

    unreadable = _serve(
        {**env, "FLURFUNK_CA_BUNDLE": str(tmp_path / "gone.pem")},
        "--ssl-certfile",
        str(bundle),
        "--ssl-keyfile",
        str(bundle),
    )
    assert unreadable.returncode == 2
    assert "CA_BUNDLE: cannot read" in unreadable.stderr
    assert "Traceback" not in unreadable.stderr


def test_a_client_certificate_that_cannot_be_loaded_stops_the_start(
    tmp_path: Path, company_ca: tuple[trustme.CA, Path]
) -> None:
    _, bundle = company_ca
    env = {"FLURFUNK_DATA_DIR": str(tmp_path)}
    missing = _serve(
        {
            **env,
            "FLURFUNK_TLS_CLIENT_CERT": str(tmp_path / "nope.pem"),
            "FLURFUNK_TLS_CLIENT_KEY": str(bundle),
        }
    )
    assert missing.returncode == 2
    assert "TLS_CLIENT_CERT: no readable file" in missing.stderr
    not_a_key = _serve(
        {**env, "FLURFUNK_TLS_CLIENT_CERT": str(bundle), "FLURFUNK_TLS_CLIENT_KEY": str(bundle)}
    )
    assert not_a_key.returncode == 2
    assert "cannot use" in not_a_key.stderr
    assert "Traceback" not in not_a_key.stderr
    half = _serve({**env, "FLURFUNK_TLS_CLIENT_CERT": str(bundle)})
    assert half.returncode == 2
    assert "TLS_CLIENT_KEY is not" in half.stderr
