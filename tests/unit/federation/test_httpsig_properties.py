"""Signature headers of both standards, however malformed, parse to a signature or a
SignatureError; and nothing appended to a captured signature makes it fresh again."""

from __future__ import annotations

import time
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from federation.httpsig_base import SignatureError
from federation.httpsig_sign import digest_header, http_date, sign_request
from federation.httpsig_verify import check_coverage, check_freshness, parse, verify
from federation.keys import generate_rsa_keypair, load_private_key, load_public_key

FAST = settings(max_examples=100, deadline=None, database=None)
INBOX = "https://hq.flurfunk.test/users/ada/inbox"
BODY = b'{"type":"Like"}'
PRIVATE_PEM, PUBLIC_PEM = generate_rsa_keypair()
PRIVATE_KEY, PUBLIC_KEY = load_private_key(PRIVATE_PEM), load_public_key(PUBLIC_PEM)

PIECES = st.sampled_from(
    [
        *'=,;:"()[]* ',
        "keyId",
        "keyid",
        "signature",
        "headers",
        "algorithm",
        "created",
        "expires",
        "(created)",
        "(expires)",
        "(request-target)",
        "@method",
        "@target-uri",
        "@authority",
        "@query",
        "@unknown",
        "host",
        "date",
        "digest",
        "sig1",
        "sig1=",
        "http://[::1",
        "hs2019",
        "AAAA",
        "²",
        "-1",
        "99999999999999999999",
        "\x00",
    ]
)
HEADER_TEXT = st.one_of(
    st.lists(st.one_of(PIECES, st.integers(-10, 10**12).map(str)), max_size=16).map("".join),
    st.text(max_size=60),
)


def request_headers(**extra: str) -> dict[str, str]:
    return {
        "host": "hq.flurfunk.test",
        "date": http_date(),
        "digest": digest_header(BODY),
        "content-type": "application/activity+json",
        **extra,
    }


def judged(headers: dict[str, str], method: str = "POST") -> Any:
    """Everything the inbox asks of a signature but the key look-up: parse, coverage,
    freshness, verification. A SignatureError is a refusal; any other exception fails."""
    try:
        parsed = parse(method, INBOX, headers)
        check_coverage(parsed, INBOX, headers, has_body=method == "POST")
        check_freshness(parsed, headers, time.time(), 300)
        verify(parsed, PUBLIC_KEY)
    except SignatureError:
        return None
    return parsed


@FAST
@given(HEADER_TEXT)
@example('keyId="k",signature="AAAA",created=²')
@example('keyId="k",signature="AAAA",headers="(created)",created=²')
def test_any_cavage_header_is_a_signature_or_a_signature_error(text: str) -> None:
    assert judged(request_headers(signature=text)) is None
    assert judged(request_headers(authorization="Signature " + text), "GET") is None


@FAST
@given(HEADER_TEXT, HEADER_TEXT)
@example('sig1=("@method");created=²;keyid="k"', "sig1=:AAAA:")
@example('sig1=("@method" "@unknown");keyid="k"', "sig1=:AAAA:")
@example('sig1=("@method";x);keyid="k"', "sig1=:AAAA:")
def test_any_rfc9421_header_pair_is_a_signature_or_a_signature_error(
    signature_input: str, signature: str
) -> None:
    headers = request_headers(**{"signature-input": signature_input, "signature": signature})
    assert judged(headers) is None


CAPTURED = sign_request(
    "POST",
    INBOX,
    {"date": http_date(time.time() - 7 * 24 * 3600)},
    "https://sales.flurfunk.test/users/bob#main-key",
    PRIVATE_KEY,
    BODY,
)


@FAST
@given(HEADER_TEXT, st.integers(0, 1 << 40))
@example("", int(time.time()))
def test_nothing_appended_to_a_captured_signature_makes_it_fresh(tail: str, now: int) -> None:
    assert judged(CAPTURED) is None  # a week old
    for appended in (f",created={now}", f',created="{now}"', "," + tail, f",{tail},created={now}"):
        assert judged(dict(CAPTURED, signature=CAPTURED["signature"] + appended)) is None


def test_what_we_sign_is_accepted() -> None:
    fresh = sign_request("POST", INBOX, {}, "k", PRIVATE_KEY, BODY)
    assert judged(fresh) is not None
