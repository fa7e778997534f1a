"""HTTP signatures interoperate with independent implementations, both ways.

`httpsig` signs and verifies draft-cavage; `http-message-signatures` signs RFC 9421 with RSA
and Ed25519. Neither shares code with ours.
"""

from __future__ import annotations

import base64
import hashlib
import time

import httpsig
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from http_message_signatures import ContentDigest, HTTPMessageSigner, MappingKeyResolver, algorithms

from federation import httpsig as ours
from federation.keys import generate_rsa_keypair, load_private_key, load_public_key

INBOX = "https://hq.flurfunk.test/users/ada/inbox"
BODY = b'{"type":"Create","actor":"https://sales.flurfunk.test/users/bob"}'
PRIVATE_PEM, PUBLIC_PEM = generate_rsa_keypair()


def lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def test_our_post_signature_verifies_and_tampering_does_not() -> None:
    headers = ours.sign_request(
        "POST", INBOX, {}, "https://sales/users/bob#main-key", load_private_key(PRIVATE_PEM), BODY
    )
    parsed = ours.parse("POST", INBOX, headers)
    assert parsed.key_id == "https://sales/users/bob#main-key"
    assert parsed.covered == ("(request-target)", "host", "date", "digest", "content-type")
    ours.verify(parsed, load_public_key(PUBLIC_PEM))
    assert ours.body_digest_matches(headers, BODY) is True
    assert ours.body_digest_matches(headers, BODY + b" ") is False

    moved = ours.parse("POST", INBOX.replace("ada", "eve"), headers)
    with pytest.raises(ours.SignatureError):
        ours.verify(moved, load_public_key(PUBLIC_PEM))


def test_our_get_signature_covers_accept() -> None:
    headers = ours.sign_request(
        "GET", "https://hq.flurfunk.test/users/ada?page=1", {}, "k", load_private_key(PRIVATE_PEM)
    )
    parsed = ours.parse("GET", "https://hq.flurfunk.test/users/ada?page=1", headers)
    assert parsed.covered == ("(request-target)", "host", "date", "accept")
    assert b"(request-target): get /users/ada?page=1" in parsed.base
    ours.verify(parsed, load_public_key(PUBLIC_PEM))


def test_httpsig_library_verifies_our_signature() -> None:
    headers = ours.sign_request("POST", INBOX, {}, "key-1", load_private_key(PRIVATE_PEM), BODY)
    verifier = httpsig.HeaderVerifier(
        headers=headers,
        secret=PUBLIC_PEM.encode(),
        method="POST",
        path="/users/ada/inbox",
        sign_header="signature",
    )
    assert verifier.verify()


def test_we_verify_the_httpsig_library_cavage_signature() -> None:
    digest = "SHA-256=" + base64.b64encode(hashlib.sha256(BODY).digest()).decode()
    headers = {
        "Host": "hq.flurfunk.test",
        "Date": ours.http_date(),
        "Digest": digest,
        "Content-Type": "application/activity+json",
    }
    signer = httpsig.HeaderSigner(
        "https://sales/users/bob#main-key",
        PRIVATE_PEM.encode(),
        algorithm="rsa-sha256",
        headers=["(request-target)", "host", "date", "digest"],
        sign_header="signature",
    )
    signed = lower(signer.sign(headers, method="POST", path="/users/ada/inbox"))
    parsed = ours.parse("POST", INBOX, signed)
    ours.verify(parsed, load_public_key(PUBLIC_PEM))
    assert ours.body_digest_matches(signed, BODY) is True
    ours.check_freshness(parsed, signed, time.time(), 300)


def rfc9421_request(body: bytes) -> requests.PreparedRequest:
    request = requests.Request(
        "POST", INBOX, data=body, headers={"Content-Type": "application/activity+json"}
    ).prepare()
    request.headers["Content-Digest"] = ContentDigest.create(body)
    return request


@pytest.mark.parametrize("kind", ["rsa", "ed25519"])
def test_we_verify_rfc9421_signatures(kind: str) -> None:
    if kind == "rsa":
        private: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey = load_private_key(PRIVATE_PEM)
        algorithm = algorithms.RSA_V1_5_SHA256
    else:
        private = ed25519.Ed25519PrivateKey.generate()
        algorithm = algorithms.ED25519
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    signer = HTTPMessageSigner(
        signature_algorithm=algorithm,
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={"bob-key": private}),
    )
    request = rfc9421_request(BODY)
    signer.sign(
        request,
        key_id="bob-key",
        label="sig1",
        covered_component_ids=("@method", "@target-uri", "@authority", "content-digest"),
        use_existing_digest=True,
    )
    headers = lower(dict(request.headers))
    parsed = ours.parse("POST", INBOX, headers)
    assert parsed.scheme == "rfc9421"
    assert parsed.key_id == "bob-key"
    assert ours.covers_body(parsed)
    ours.verify(parsed, load_public_key(public_pem))
    assert ours.body_digest_matches(headers, BODY) is True
    assert ours.body_digest_matches(headers, b"{}") is False
    ours.check_freshness(parsed, headers, time.time(), 300)

    headers["content-digest"] = ContentDigest.create(b"{}")
    with pytest.raises(ours.SignatureError):
        ours.verify(ours.parse("POST", INBOX, headers), load_public_key(public_pem))


def test_stale_and_future_dates_are_rejected() -> None:
    old = ours.http_date(time.time() - 3600)
    headers = ours.sign_request(
        "POST", INBOX, {"date": old}, "k", load_private_key(PRIVATE_PEM), BODY
    )
    parsed = ours.parse("POST", INBOX, headers)
    ours.verify(parsed, load_public_key(PUBLIC_PEM))  # the signature itself is fine
    with pytest.raises(ours.SignatureError, match="too old"):
        ours.check_freshness(parsed, headers, time.time(), 300)
    with pytest.raises(ours.SignatureError, match="too old"):
        ours.check_freshness(parsed, headers, time.time() - 7200, 300)


@pytest.mark.parametrize(
    "header",
    ["", 'keyId="k"', 'keyId="k",signature="%%%"', "garbage without equals"],
)
def test_malformed_signature_headers_are_signature_errors(header: str) -> None:
    with pytest.raises(ours.SignatureError):
        ours.parse("POST", INBOX, {"signature": header, "date": ours.http_date()})


def test_missing_signed_header_is_a_signature_error() -> None:
    headers = ours.sign_request("POST", INBOX, {}, "k", load_private_key(PRIVATE_PEM), BODY)
    del headers["digest"]
    with pytest.raises(ours.SignatureError, match="digest"):
        ours.parse("POST", INBOX, headers)
