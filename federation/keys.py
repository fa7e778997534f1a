"""Actor key pairs: RSA-2048 generated here; RSA, Ed25519 and EC public keys accepted.

Loading a private key from PEM costs ~38 ms (key validation), so callers load each key once
and keep it; `load_private_key` and `load_public_key` cache by PEM text.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

PublicKey = rsa.RSAPublicKey | ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey
PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


class KeyFormatError(ValueError):
    """A key document that cannot be used."""


def generate_rsa_keypair() -> tuple[str, str]:
    """(private PEM, public PEM). Takes ~50-200 ms: call it off the event loop."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@lru_cache(maxsize=4096)
def load_public_key(pem: str) -> PublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except ValueError:
        raise KeyFormatError("not a PEM public key") from None
    if not isinstance(key, PublicKey):
        raise KeyFormatError(f"unsupported key type {type(key).__name__}")
    return key


@lru_cache(maxsize=1024)
def load_private_key(pem: str) -> PrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, PrivateKey):
        raise KeyFormatError(f"unsupported key type {type(key).__name__}")
    return key


def load_multibase_ed25519(value: str) -> ed25519.Ed25519PublicKey:
    """An Ed25519 key in FEP-521a `publicKeyMultibase` form (base58btc, multicodec 0xed01)."""
    if not value.startswith("z"):
        raise KeyFormatError("only base58btc multibase keys are supported")
    raw = _b58decode(value[1:])
    if raw[:2] != b"\xed\x01" or len(raw) != 34:
        raise KeyFormatError("not an Ed25519 multikey")
    return ed25519.Ed25519PublicKey.from_public_bytes(raw[2:])


_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _b58decode(text: str) -> bytes:
    number = 0
    for char in text:
        index = _B58.find(char)
        if index < 0:
            raise KeyFormatError("invalid base58")
        number = number * 58 + index
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\x00" * (len(text) - len(text.lstrip("1"))) + raw


def public_pem(key: PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
