"""federation.webpush against http_ece's own decryption and py_vapid's own verification."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02

from federation.webpush import (
    BadSubscriptionKeys,
    b64url,
    b64url_decode,
    check_subscription_keys,
    encrypt,
    load_or_create_vapid_key,
    request_headers,
)


def phone() -> tuple[ec.EllipticCurvePrivateKey, str, bytes]:
    private = ec.generate_private_key(ec.SECP256R1())
    point = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return private, b64url(point), os.urandom(16)


def test_the_vapid_key_is_made_once_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "vapid.pem"
    first = load_or_create_vapid_key(path)
    assert load_or_create_vapid_key(path).public_key == first.public_key
    assert path.stat().st_mode & 0o077 == 0
    assert len(b64url_decode(first.public_key)) == 65


def test_aes128gcm_decrypts_and_the_vapid_token_verifies(tmp_path: Path) -> None:
    private, p256dh, auth = phone()
    vapid = load_or_create_vapid_key(tmp_path / "vapid.pem")
    message = encrypt(b'{"title": "hi"}', p256dh, b64url(auth), standard=True)
    plain = http_ece.decrypt(message.body, private_key=private, auth_secret=auth)
    assert plain == b'{"title": "hi"}'
    endpoint = "https://ntfy.corp.example/up/abc"
    headers = request_headers(message, vapid, endpoint, "mailto:push@hq", standard=True)
    assert headers["content-encoding"] == "aes128gcm"
    token = headers["authorization"].removeprefix("vapid t=").split(",k=")[0]
    assert Vapid02.verify(f"vapid t={token},k={vapid.public_key}")


def test_aesgcm_carries_salt_and_keys_in_headers(tmp_path: Path) -> None:
    private, p256dh, auth = phone()
    vapid = load_or_create_vapid_key(tmp_path / "vapid.pem")
    # Apps that follow the old draft send standard base64 with padding.
    classic = base64.b64encode(b64url_decode(p256dh)).decode()
    message = encrypt(b"payload", classic, base64.b64encode(auth).decode(), standard=False)
    headers = request_headers(
        message, vapid, "https://push.example/x", "mailto:a@b.c", standard=False
    )
    keys = dict(part.split("=", 1) for part in headers["crypto-key"].split(";"))
    assert keys["p256ecdsa"] == vapid.public_key
    plain = http_ece.decrypt(
        message.body,
        salt=b64url_decode(headers["encryption"].removeprefix("salt=")),
        dh=b64url_decode(keys["dh"]),
        private_key=private,
        auth_secret=auth,
        version="aesgcm",
    )
    assert plain == b"payload"
    assert headers["authorization"].startswith("WebPush ")


@pytest.mark.parametrize(
    ("p256dh", "auth"),
    [("not-a-key", b64url(os.urandom(16))), (phone()[1], "c2hvcnQ"), ("", "")],
    ids=["key-not-a-point", "auth-too-short", "both-empty"],
)
def test_unusable_keys_are_refused(p256dh: str, auth: str) -> None:
    with pytest.raises(BadSubscriptionKeys):
        check_subscription_keys(p256dh, auth)
