"""Real TLS between real nodes: `serve --ssl-keyfile/--ssl-certfile`, FLURFUNK_CA_BUNDLE with a
throwaway company CA (trustme), public URLs on https. A node whose certificate another CA
issued is refused: deliveries to it fail and nothing reaches it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trustme

from tests.federation_kit import (
    FedNode,
    Network,
    Plan,
    Tls,
    arrives,
    deliveries_once,
    follows,
    in_home,
    network,
    post,
    remote_account,
    resolve,
)


def tls_files(directory: Path, ca: trustme.CA, company_ca: Path, host: str) -> Tls:
    directory.mkdir(parents=True, exist_ok=True)
    issued = ca.issue_cert(host, "127.0.0.1")
    keyfile, certfile, issuer = directory / "key.pem", directory / "cert.pem", directory / "ca.pem"
    keyfile.write_bytes(issued.private_key_pem.bytes())
    certfile.write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
    issuer.write_bytes(ca.cert_pem.bytes())
    return Tls(keyfile=keyfile, certfile=certfile, trusted_cas=company_ca, issuer_ca=issuer)


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
    plans = {
        name: Plan(allow=allow, tls=tls_files(certs / name, ca, bundle, f"{name}.flurfunk.test"))
        for name, allow in (("hq", ("sales", "dev")), ("sales", ("hq",)), ("dev", ("hq",)))
    }
    with network(tmp_path_factory.mktemp("tls"), "sqlite", plans) as running:
        yield running


def test_nodes_federate_over_https(net: Network) -> None:
    hq, sales = net["hq"], net["sales"]
    assert hq.public_url.startswith("https://")
    ada, bo = hq.create_user("ada"), sales.create_user("bo")
    ada_on_sales = follows(sales, bo, hq, ada)
    assert ada_on_sales["uri"] == f"{hq.public_url}/users/{ada.name}"
    sent = post(hq, ada, "Signed, sealed, delivered over TLS")
    assert arrives(sales, bo, sent["uri"])["account"]["acct"] == hq.handle(ada)
    assert remote_account(hq, ada, sales, bo)["url"].startswith("https://")


def test_a_certificate_from_another_ca_is_refused(
    net: Network, tmp_path: Path, company_ca: tuple[trustme.CA, Path]
) -> None:
    hq, dev = net["hq"], net["dev"]
    ada, dz = hq.create_user("ada"), dev.create_user("dz")
    follows(dev, dz, hq, ada)
    arrives(dev, dz, post(hq, ada, "Before the certificate changes")["uri"])

    # dev comes back with a certificate that the company CA did not issue.
    dev.stop()
    assert dev.tls is not None
    _, bundle = company_ca
    dev.tls = tls_files(tmp_path / "rogue", trustme.CA(), bundle, dev.host)
    dev.start()

    refused = post(hq, ada, "Nobody with a rogue certificate may read this")
    summary = deliveries_once(
        hq,
        dev.host,
        lambda d: "certificate" in d["last error"].lower(),
        "hq's delivery to dev failing on the certificate",
    )
    assert summary["pending"] == "0"
    assert summary["failed"] == "1"
    failed = hq.deliveries("--failed", "--host", dev.host)
    assert refused["uri"] in failed
    assert in_home(dev, dz, refused["uri"]) is None
    newcomer = dev.create_user("newcomer")
    assert resolve(hq, ada, dev.handle(newcomer)) is None


def test_https_node_rejects_plain_http_and_unknown_cas(net: Network) -> None:
    """What a client sees: the node speaks only TLS, with the company's certificate."""
    hq: FedNode = net["hq"]
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{hq.port}/livez", timeout=5)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"https://127.0.0.1:{hq.port}/livez", timeout=5)  # system CAs only
    assert httpx.get(hq.url + "/livez", timeout=5, verify=hq.verify).status_code == 200
