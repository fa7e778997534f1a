"""HTTP signatures, outbound: draft-cavage-12, signed the way Mastodon signs.

RSA-SHA256 over `(request-target) host date digest content-type` (POST) or
`(request-target) host date accept` (GET), with `Digest: SHA-256=…` on POST. Checking
inbound signatures is federation.httpsig_verify's business.
"""

from __future__ import annotations

import base64
import hashlib
from email.utils import formatdate
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from federation.httpsig_base import SignatureError, cavage_base
from federation.keys import PrivateKey

POST_HEADERS: tuple[str, ...] = ("(request-target)", "host", "date", "digest", "content-type")
GET_HEADERS: tuple[str, ...] = ("(request-target)", "host", "date", "accept")


def digest_header(body: bytes) -> str:
    return "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()


def http_date(timestamp: float | None = None) -> str:
    return formatdate(timestamp, usegmt=True)


def sign_request(
    method: str,
    url: str,
    headers: dict[str, str],
    key_id: str,
    private_key: PrivateKey,
    body: bytes | None = None,
) -> dict[str, str]:
    """Add Host, Date, (Digest) and a cavage Signature header; returns the headers."""
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise SignatureError("outbound signatures use RSA keys")
    headers = {k.lower(): v for k, v in headers.items()}
    headers.setdefault("host", urlsplit(url).netloc)
    headers.setdefault("date", http_date())
    if method.upper() == "POST":
        headers["digest"] = digest_header(body or b"")
        headers.setdefault("content-type", "application/activity+json")
        covered = POST_HEADERS
    else:
        headers.setdefault("accept", "application/activity+json")
        covered = GET_HEADERS
    base = cavage_base(method, url, headers, covered)
    signature = private_key.sign(base, padding.PKCS1v15(), hashes.SHA256())
    headers["signature"] = (
        f'keyId="{key_id}",algorithm="rsa-sha256",headers="{" ".join(covered)}",'
        f'signature="{base64.b64encode(signature).decode()}"'
    )
    return headers
