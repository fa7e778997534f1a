"""HTTP signatures interoperate with independent implementations, both ways.

`httpsig` signs and verifies draft-cavage; `http-message-signatures` signs RFC 9421 with RSA
and Ed25519. Neither shares code with ours.
"""

from __future__ import annotations

import base64
import hashlib
import time
from datetime import datetime
from typing import Any

import httpsig
import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from http_message_signatures import ContentDigest, HTTPMessageSigner, MappingKeyResolver, algorithms

from federation.httpsig_base import SignatureError
from federation.httpsig_sign import digest_header, http_date, sign_request
from federation.httpsig_verify import (
    body_digest_matches,
    check_coverage,
    check_freshness,
    covers_body,
    parse,
    signed_digest_matches,
    verify,
)
from federation.keys import generate_rsa_keypair, load_private_key, load_public_key

INBOX = "https://hq.flurfunk.test/users/ada/inbox"
BODY = b'{"type":"Create","actor":"https://sales.flurfunk.test/users/bob"}'
PRIVATE_PEM, PUBLIC_PEM = generate_rsa_keypair()


def lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def test_our_post_signature_verifies_and_tampering_does_not() -> None:
    headers = sign_request(
        "POST", INBOX, {}, "https://sales/users/bob#main-key", load_private_key(PRIVATE_PEM), BODY
    )
    parsed = parse("POST", INBOX, headers)
    assert parsed.key_id == "https://sales/users/bob#main-key"
    assert parsed.covered == ("(request-target)", "host", "date", "digest", "content-type")
    verify(parsed, load_public_key(PUBLIC_PEM))
    assert body_digest_matches(headers, BODY) is True
    assert body_digest_matches(headers, BODY + b" ") is False

    moved = parse("POST", INBOX.replace("ada", "eve"), headers)
    with pytest.raises(SignatureError):
        verify(moved, load_public_key(PUBLIC_PEM))


def test_our_get_signature_covers_accept() -> None:
    headers = sign_request(
        "GET", "https://hq.flurfunk.test/users/ada?page=1", {}, "k", load_private_key(PRIVATE_PEM)
    )
    parsed = parse("GET", "https://hq.flurfunk.test/users/ada?page=1", headers)
    assert parsed.covered == ("(request-target)", "host", "date", "accept")
    assert b"(request-target): get /users/ada?page=1" in parsed.base
    verify(parsed, load_public_key(PUBLIC_PEM))


def test_httpsig_library_verifies_our_signature() -> None:
    headers = sign_request("POST", INBOX, {}, "key-1", load_private_key(PRIVATE_PEM), BODY)
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
        "Date": http_date(),
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
    parsed = parse("POST", INBOX, signed)
    verify(parsed, load_public_key(PUBLIC_PEM))
    assert body_digest_matches(signed, BODY) is True
    check_freshness(parsed, signed, time.time(), 300)


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
    parsed = parse("POST", INBOX, headers)
    assert parsed.scheme == "rfc9421"
    assert parsed.key_id == "bob-key"
    assert covers_body(parsed)
    verify(parsed, load_public_key(public_pem))
    assert body_digest_matches(headers, BODY) is True
    assert body_digest_matches(headers, b"{}") is False
    check_freshness(parsed, headers, time.time(), 300)

    headers["content-digest"] = ContentDigest.create(b"{}")
    with pytest.raises(SignatureError):
        verify(parse("POST", INBOX, headers), load_public_key(public_pem))


def test_stale_and_future_dates_are_rejected() -> None:
    old = http_date(time.time() - 3600)
    headers = sign_request("POST", INBOX, {"date": old}, "k", load_private_key(PRIVATE_PEM), BODY)
    parsed = parse("POST", INBOX, headers)
    verify(parsed, load_public_key(PUBLIC_PEM))  # the signature itself is fine
    with pytest.raises(SignatureError, match="too old"):
        check_freshness(parsed, headers, time.time(), 300)
    with pytest.raises(SignatureError, match="too old"):
        check_freshness(parsed, headers, time.time() - 7200, 300)


@pytest.mark.parametrize(
    "header",
    ["", 'keyId="k"', 'keyId="k",signature="%%%"', "garbage without equals"],
)
def test_malformed_signature_headers_are_signature_errors(header: str) -> None:
    with pytest.raises(SignatureError):
        parse("POST", INBOX, {"signature": header, "date": http_date()})


def test_missing_signed_header_is_a_signature_error() -> None:
    headers = sign_request("POST", INBOX, {}, "k", load_private_key(PRIVATE_PEM), BODY)
    del headers["digest"]
    with pytest.raises(SignatureError, match="digest"):
        parse("POST", INBOX, headers)


# --- what a signature must cover (issue 8: captured signatures replayed) ----------------------

OUTBOX = "https://hq.flurfunk.test/users/ada/outbox"
WEEK = 7 * 24 * 3600


def admit(method: str, url: str, headers: dict[str, str], body: bytes | None) -> None:
    """What the inbox and authorized fetch require of a signature, short of the key look-up."""
    parsed = parse(method, url, headers)
    check_coverage(parsed, url, headers, has_body=body is not None)
    check_freshness(parsed, headers, time.time(), 300)
    verify(parsed, load_public_key(PUBLIC_PEM))
    if body is not None:
        assert signed_digest_matches(parsed, headers, body)


def cavage_signed(
    method: str,
    url: str,
    covered: list[str],
    *,
    age: float = 0,
    body: bytes | None = None,
    host: str = "hq.flurfunk.test",
) -> dict[str, str]:
    """Headers signed by the independent httpsig library, `age` seconds ago."""
    headers = {"Host": host, "Date": http_date(time.time() - age)}
    if body is not None:
        headers["Digest"] = digest_header(body)
        headers["Content-Type"] = "application/activity+json"
    else:
        headers["Accept"] = "application/activity+json"
    signer = httpsig.HeaderSigner(
        "https://sales.flurfunk.test/users/bob#main-key",
        PRIVATE_PEM.encode(),
        algorithm="rsa-sha256",
        headers=covered,
        sign_header="signature",
    )
    path = url.removeprefix("https://hq.flurfunk.test")
    return lower(signer.sign(headers, method=method, path=path))


def test_a_week_old_get_with_a_fresh_created_appended_is_refused() -> None:
    captured = cavage_signed(
        "GET", OUTBOX, ["(request-target)", "host", "date", "accept"], age=WEEK
    )
    replayed = dict(captured, signature=captured["signature"] + f",created={int(time.time())}")
    with pytest.raises(SignatureError, match="too old"):
        admit("GET", OUTBOX, replayed, None)


def test_an_old_post_is_refused_whatever_is_appended() -> None:
    covered = ["(request-target)", "host", "date", "digest"]
    captured = cavage_signed("POST", INBOX, covered, age=3600, body=BODY)
    for tail in ("", f",created={int(time.time())}", f',created="{int(time.time())}"'):
        with pytest.raises(SignatureError, match="too old"):
            admit("POST", INBOX, dict(captured, signature=captured["signature"] + tail), BODY)


@pytest.mark.parametrize(
    ("method", "covered", "missing"),
    [
        ("GET", ["host", "date", "accept"], "request-target"),
        ("GET", ["(request-target)", "date", "accept"], "host"),
        ("GET", ["(request-target)", "host", "accept"], "neither"),
        ("POST", ["(request-target)", "host", "date"], "digest"),
    ],
)
def test_cavage_signatures_missing_required_headers_are_refused(
    method: str, covered: list[str], missing: str
) -> None:
    body = BODY if method == "POST" else None
    url = INBOX if body else OUTBOX
    headers = cavage_signed(method, url, covered, body=body)
    with pytest.raises(SignatureError, match=missing):
        admit(method, url, headers, body)


def test_fresh_cavage_signatures_from_httpsig_are_accepted() -> None:
    admit("GET", OUTBOX, cavage_signed("GET", OUTBOX, ["(request-target)", "host", "date"]), None)
    covered = ["(request-target)", "host", "date", "digest", "content-type"]
    admit("POST", INBOX, cavage_signed("POST", INBOX, covered, body=BODY), BODY)


def test_a_covered_created_decides_over_the_date_header() -> None:
    """hs2019 signers (Mastodon 4.x may, GoToSocial does) sign `(created)` instead of Date."""
    created = int(time.time()) - 3600
    base = f"(request-target): get /users/ada/outbox\n(created): {created}\nhost: hq.flurfunk.test"
    key = load_private_key(PRIVATE_PEM)
    assert isinstance(key, rsa.RSAPrivateKey)
    signature = key.sign(base.encode(), padding.PKCS1v15(), hashes.SHA256())
    headers = {
        "host": "hq.flurfunk.test",
        "date": http_date(),  # fresh, but not what the signature vouches for
        "signature": f'keyId="k",algorithm="hs2019",created={created},'
        f'headers="(request-target) (created) host",'
        f'signature="{base64.b64encode(signature).decode()}"',
    }
    parsed = parse("GET", OUTBOX, headers)
    verify(parsed, load_public_key(PUBLIC_PEM))
    with pytest.raises(SignatureError, match="too old"):
        check_freshness(parsed, headers, time.time(), 300)
    check_freshness(parsed, headers, created + 10.0, 300)


class _SignerWithoutCreated(HTTPMessageSigner):
    """http-message-signatures always adds `created`; some senders do not."""

    def _build_signature_base(
        self, message: Any, *, signature_params: dict[str, Any], **kwargs: Any
    ) -> Any:
        signature_params.pop("created", None)
        return super()._build_signature_base(message, signature_params=signature_params, **kwargs)


def rfc9421_signed(
    method: str,
    url: str,
    covered: tuple[str, ...],
    *,
    body: bytes | None = None,
    age: float = 0,
    created: bool = True,
    date: str | None = None,
) -> dict[str, str]:
    signer_class = HTTPMessageSigner if created else _SignerWithoutCreated
    signer = signer_class(
        signature_algorithm=algorithms.RSA_V1_5_SHA256,
        key_resolver=MappingKeyResolver(
            public_keys={}, private_keys={"bob-key": load_private_key(PRIVATE_PEM)}
        ),
    )
    headers = {"Content-Type": "application/activity+json"} if body is not None else {}
    if date is not None:
        headers["Date"] = date
    request = requests.Request(method, url, data=body, headers=headers).prepare()
    if body is not None:
        request.headers["Content-Digest"] = ContentDigest.create(body)
    signer.sign(
        request,
        key_id="bob-key",
        label="sig1",
        created=datetime.fromtimestamp(time.time() - age),
        covered_component_ids=covered,
        body=body,
        use_existing_digest=body is not None,
    )
    return lower(dict(request.headers))


def test_rfc9421_freshness_comes_from_created_or_a_covered_date() -> None:
    target = ("@method", "@target-uri")
    admit("GET", OUTBOX, rfc9421_signed("GET", OUTBOX, target), None)
    with pytest.raises(SignatureError, match="too old"):
        admit("GET", OUTBOX, rfc9421_signed("GET", OUTBOX, target, age=WEEK), None)

    # Without `created`, an unsigned Date vouches for nothing, however fresh it looks.
    unsigned = rfc9421_signed("GET", OUTBOX, target, created=False, date=http_date())
    with pytest.raises(SignatureError, match="neither"):
        admit("GET", OUTBOX, unsigned, None)
    signed_date = rfc9421_signed("GET", OUTBOX, (*target, "date"), created=False, date=http_date())
    admit("GET", OUTBOX, signed_date, None)
    old_date = http_date(time.time() - WEEK)
    with pytest.raises(SignatureError, match="too old"):
        admit(
            "GET",
            OUTBOX,
            rfc9421_signed("GET", OUTBOX, (*target, "date"), created=False, date=old_date),
            None,
        )


@pytest.mark.parametrize(
    ("covered", "missing"),
    [
        (("@target-uri",), "@method"),
        (("@method", "@authority"), "@target-uri"),
        (("@method", "@path"), "@authority"),
        (("@method", "@authority", "@path"), None),
        (("@method", "@request-target", "@authority"), None),
    ],
)
def test_rfc9421_signatures_must_cover_method_target_and_host(
    covered: tuple[str, ...], missing: str | None
) -> None:
    headers = rfc9421_signed("GET", OUTBOX, covered)
    if missing is None:
        admit("GET", OUTBOX, headers, None)
    else:
        with pytest.raises(SignatureError, match=missing):
            admit("GET", OUTBOX, headers, None)


def test_rfc9421_query_must_be_covered_when_the_path_is_all_that_is() -> None:
    url = OUTBOX + "?page=true"
    with pytest.raises(SignatureError, match="@query"):
        admit("GET", url, rfc9421_signed("GET", url, ("@method", "@authority", "@path")), None)
    admit(
        "GET", url, rfc9421_signed("GET", url, ("@method", "@authority", "@path", "@query")), None
    )


def test_rfc9421_post_must_cover_its_content_digest() -> None:
    """The library adds content-digest itself when given the body; a sender that signs only
    the method and target leaves the body open to substitution."""
    admit("POST", INBOX, rfc9421_signed("POST", INBOX, ("@method", "@target-uri"), body=BODY), BODY)
    headers = lower(dict(rfc9421_request(BODY).headers))
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.RSA_V1_5_SHA256,
        key_resolver=MappingKeyResolver(
            public_keys={}, private_keys={"bob-key": load_private_key(PRIVATE_PEM)}
        ),
    )
    request = requests.Request("POST", INBOX, data=BODY, headers=headers).prepare()
    signer.sign(
        request,
        key_id="bob-key",
        covered_component_ids=("@method", "@target-uri"),
        use_existing_digest=True,
    )
    with pytest.raises(SignatureError, match="content-digest"):
        admit("POST", INBOX, lower(dict(request.headers)), BODY)


def test_our_own_signatures_satisfy_the_rules() -> None:
    key = load_private_key(PRIVATE_PEM)
    admit("POST", INBOX, sign_request("POST", INBOX, {}, "k", key, BODY), BODY)
    admit("GET", OUTBOX, sign_request("GET", OUTBOX, {}, "k", key), None)


def test_only_a_signed_digest_vouches_for_the_body() -> None:
    """A covered Digest the node cannot check (MD5) plus an unsigned Content-Digest that fits a
    substituted body must not pass: the signature says nothing about that body."""
    signer = httpsig.HeaderSigner(
        "k",
        PRIVATE_PEM.encode(),
        algorithm="rsa-sha256",
        headers=["(request-target)", "host", "date", "digest"],
        sign_header="signature",
    )
    headers = {"Host": "hq.flurfunk.test", "Date": http_date(), "Digest": "MD5=AAAA"}
    signed = lower(signer.sign(headers, method="POST", path="/users/ada/inbox"))
    forged_body = b'{"type":"Delete"}'
    signed["content-digest"] = ContentDigest.create(forged_body)
    parsed = parse("POST", INBOX, signed)
    verify(parsed, load_public_key(PUBLIC_PEM))
    assert body_digest_matches(signed, forged_body) is True  # what was checked before
    assert not signed_digest_matches(parsed, signed, forged_body)

    honest = cavage_signed("POST", INBOX, ["(request-target)", "host", "date", "digest"], body=BODY)
    assert signed_digest_matches(parse("POST", INBOX, honest), honest, BODY)
    assert not signed_digest_matches(parse("POST", INBOX, honest), honest, forged_body)


def test_a_signature_for_another_node_is_refused_here() -> None:
    """The same path on another node (every node has /users/ada/outbox): a captured request
    must not be replayable there, so a signed Host header must name this node."""
    covered = ["(request-target)", "host", "date", "accept"]
    for host in ("sales.flurfunk.test", "hq.flurfunk.test:8443", "hq.flurfunk.test.evil"):
        headers = cavage_signed("GET", OUTBOX, covered, host=host)
        with pytest.raises(SignatureError, match="another host"):
            admit("GET", OUTBOX, headers, None)
    for host in ("HQ.flurfunk.test", "hq.flurfunk.test:443"):
        admit("GET", OUTBOX, cavage_signed("GET", OUTBOX, covered, host=host), None)
