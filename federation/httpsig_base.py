"""HTTP signatures: what signing and verifying share — the cavage signature base (the exact
bytes a draft-cavage-12 signature covers) and the error both sides raise.

federation.httpsig_sign signs outbound requests; federation.httpsig_verify parses and checks
inbound ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit


class SignatureError(ValueError):
    """A signature that is missing, malformed or does not verify; the message says which."""


def _request_target(method: str, url: str) -> str:
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return f"{method.lower()} {path}"


def cavage_base(
    method: str,
    target_url: str,
    headers: Mapping[str, str],
    covered: tuple[str, ...],
    created: int | None = None,
    expires: int | None = None,
) -> bytes:
    """The bytes a cavage signature over `covered` signs, for this request."""
    lines = []
    for name in covered:
        if name == "(request-target)":
            lines.append(f"(request-target): {_request_target(method, target_url)}")
        elif name == "(created)":
            if created is None:
                raise SignatureError("(created) is covered but the created parameter is missing")
            lines.append(f"(created): {created}")
        elif name == "(expires)":
            if expires is None:
                raise SignatureError("(expires) is covered but the expires parameter is missing")
            lines.append(f"(expires): {expires}")
        else:
            value = headers.get(name)
            if value is None:
                raise SignatureError(f"the signed header {name!r} is missing")
            lines.append(f"{name}: {value.strip()}")
    return "\n".join(lines).encode()
