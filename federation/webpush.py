"""Web Push, the protocol part: VAPID keys (RFC 8292, ES256) and the encrypted request for
one message (RFC 8291 `aes128gcm`, or the draft `aesgcm` that older apps still ask for).

The encryption is http-ece's and the VAPID tokens are py-vapid's; this module only puts
their output into the headers each encoding expects, as Mastodon 4.4 sends them.
"""

from __future__ import annotations

import base64
import os
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import http_ece
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid01, Vapid02

TTL = 48 * 3600  # seconds a push service keeps a message for a phone that is offline


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def b64url_decode(text: str) -> bytes:
    text = text.strip().replace("+", "-").replace("/", "_")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class BadSubscriptionKeys(ValueError):
    """The keys an app gave cannot encrypt anything."""


@dataclass(frozen=True)
class VapidKey:
    private: ec.EllipticCurvePrivateKey

    @property
    def public_key(self) -> str:
        """The application server key that apps pass to the push service (base64url)."""
        return b64url(
            self.private.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )

    def authorization(self, endpoint: str, subject: str, *, standard: bool) -> dict[str, str]:
        """The VAPID headers for one push: `vapid t=…,k=…` (RFC 8292) with aes128gcm,
        `WebPush <jwt>` plus `Crypto-Key: p256ecdsa=…` with the draft encoding."""
        parts = urlsplit(endpoint)
        claims = {
            "aud": f"{parts.scheme}://{parts.netloc}",
            "exp": int(time.time()) + 12 * 3600,
            "sub": subject,
        }
        # py-vapid's strict check wants a dotted host in `sub`; a node named `hq` is fine.
        conf = {"no-strict": True}
        signer = (Vapid02 if standard else Vapid01)(private_key=self.private, conf=conf)
        return {k.lower(): v for k, v in signer.sign(claims).items()}


def load_or_create_vapid_key(path: Path) -> VapidKey:
    """The node's VAPID key from `path` (PEM), generated there on first use."""
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{path} does not hold an EC private key")
        return VapidKey(key)
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(pem)
    temporary.chmod(0o600)
    # Several processes may start at once: the first key written wins, the others read it.
    try:
        os.link(temporary, path)
    except FileExistsError:
        temporary.unlink()
        return load_or_create_vapid_key(path)
    temporary.unlink()
    return VapidKey(private)


def check_subscription_keys(p256dh: str, auth: str) -> None:
    try:
        point = b64url_decode(p256dh)
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
        secret = b64url_decode(auth)
    except ValueError:
        raise BadSubscriptionKeys("keys must be a P-256 public key and an auth secret") from None
    if len(secret) < 16:
        raise BadSubscriptionKeys("the auth secret must be at least 16 bytes")


@dataclass(frozen=True)
class EncryptedPush:
    body: bytes
    headers: dict[str, str]


def encrypt(payload: bytes, p256dh: str, auth: str, *, standard: bool) -> EncryptedPush:
    """Encrypt `payload` for the subscriber's key; `standard` picks aes128gcm over aesgcm."""
    sender = ec.generate_private_key(ec.SECP256R1())  # a fresh key per message
    receiver = b64url_decode(p256dh)
    secret = b64url_decode(auth)
    if standard:
        body = http_ece.encrypt(
            payload, private_key=sender, dh=receiver, auth_secret=secret, version="aes128gcm"
        )
        return EncryptedPush(body, {"content-encoding": "aes128gcm"})
    salt = os.urandom(16)
    body = http_ece.encrypt(
        payload,
        salt=salt,
        private_key=sender,
        dh=receiver,
        auth_secret=secret,
        version="aesgcm",
    )
    sender_public = sender.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return EncryptedPush(
        body,
        {
            "content-encoding": "aesgcm",
            "encryption": f"salt={b64url(salt)}",
            "crypto-key": f"dh={b64url(sender_public)}",
        },
    )


def request_headers(
    message: EncryptedPush, vapid: VapidKey, endpoint: str, subject: str, *, standard: bool
) -> dict[str, str]:
    """Every header of the POST to the push service."""
    headers = {
        **message.headers,
        "content-type": "application/octet-stream",
        "ttl": str(TTL),
        "urgency": "normal",
    }
    signed = vapid.authorization(endpoint, subject, standard=standard)
    if "crypto-key" in signed and "crypto-key" in headers:
        signed["crypto-key"] = f"{headers['crypto-key']};{signed['crypto-key']}"
    headers.update(signed)
    return headers
