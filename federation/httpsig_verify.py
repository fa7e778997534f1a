"""HTTP signatures, inbound: draft-cavage-12 and RFC 9421.

Cavage signatures with rsa-sha256 or hs2019 (RSA or Ed25519 keys) and RFC 9421 signatures are
accepted — when they cover the method, target and host (check_coverage) and their age is
signed too (check_freshness). Key look-up is the caller's business: this module parses,
builds signature bases and checks signatures with a key it is given. Signing outbound
requests is federation.httpsig_sign's business.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from federation.httpsig_base import SignatureError, cavage_base
from federation.keys import PublicKey
from federation.values import (
    DEFAULT_PORTS,
    InvalidValue,
    host_port,
    integer,
    parse_http_date,
    split_authority,
)


@dataclass(frozen=True)
class ParsedSignature:
    """What a signed request claims: who signed, what, and the signature itself."""

    key_id: str
    algorithm: str
    covered: tuple[str, ...]
    signature: bytes
    base: bytes  # the exact bytes that were signed, rebuilt from this request
    created: int | None = None
    expires: int | None = None
    scheme: str = "cavage"
    params: dict[str, str] = field(default_factory=dict)


# --- digests ---------------------------------------------------------------------------


def body_digest_matches(headers: Mapping[str, str], body: bytes) -> bool | None:
    """True/False when a Digest or Content-Digest header names SHA-256/512; None when absent."""
    found = None
    digest = headers.get("digest")
    if digest:
        for part in digest.split(","):
            name, _, value = part.strip().partition("=")
            algorithm = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}.get(name.lower())
            if algorithm is not None:
                if base64.b64encode(algorithm(body).digest()).decode() != value.strip():
                    return False
                found = True
    content_digest = headers.get("content-digest")
    if content_digest:
        for name, value in re.findall(r"([\w-]+)=:([A-Za-z0-9+/=]*):", content_digest):
            algorithm = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}.get(name.lower())
            if algorithm is not None:
                if base64.b64encode(algorithm(body).digest()).decode() != value:
                    return False
                found = True
    return found


# --- parsing ---------------------------------------------------------------------------

_CAVAGE_PARAM = re.compile(r'\s*([a-zA-Z]+)\s*=\s*(?:"([^"]*)"|([^,]*))\s*(?:,|$)')


def _parse_cavage(value: str) -> dict[str, str]:
    params: dict[str, str] = {}
    position = 0
    while position < len(value):
        match = _CAVAGE_PARAM.match(value, position)
        if match is None:
            raise SignatureError("malformed Signature header")
        params[match.group(1)] = match.group(2) if match.group(2) is not None else match.group(3)
        position = match.end()
    return params


def _seconds(text: str | None) -> int | None:
    """A `created`/`expires` parameter: Unix seconds, or None when absent or not a number."""
    try:
        return None if text is None else integer(text, minimum=0, maximum=1 << 40)
    except InvalidValue:
        return None


def parse_cavage(method: str, target_url: str, headers: Mapping[str, str]) -> ParsedSignature:
    """Parse a cavage `Signature` (or `Authorization: Signature …`) header."""
    raw = headers.get("signature")
    if raw is None:
        auth = headers.get("authorization", "")
        if auth.lower().startswith("signature "):
            raw = auth[len("signature ") :]
    if not raw:
        raise SignatureError("the request is not signed")
    params = _parse_cavage(raw)
    try:
        key_id, signature = params["keyId"], base64.b64decode(params["signature"], validate=True)
    except (KeyError, ValueError):
        raise SignatureError("the Signature header lacks keyId or a valid signature") from None
    covered = tuple(params.get("headers", "date").lower().split())
    created, expires = _seconds(params.get("created")), _seconds(params.get("expires"))
    base = cavage_base(method, target_url, headers, covered, created, expires)
    return ParsedSignature(
        key_id,
        params.get("algorithm", "hs2019").lower(),
        covered,
        signature,
        base,
        created,
        expires,
        "cavage",
        params,
    )


# RFC 9421: Signature-Input: sig1=("@method" "@target-uri");created=1;keyid="k";alg="x"
_SF_MEMBER = re.compile(r"\s*([a-z*][a-z0-9_.*-]*)=(\([^)]*\)(?:;[^,]*)?)\s*(?:,|$)")
_SF_SIGNATURE = re.compile(r"\s*([a-z*][a-z0-9_.*-]*)=:([A-Za-z0-9+/=]*):\s*(?:;[^,]*)?(?:,|$)")
_SF_PARAM = re.compile(r';([a-z*][a-z0-9_.*-]*)=(?:"((?:[^"\\]|\\.)*)"|([^;]*))')
_SF_ITEM = re.compile(r'"([^"]*)"((?:;[a-z]+(?:="[^"]*")?)*)')


def _derived(
    component: str, params: str, method: str, target_url: str, headers: Mapping[str, str]
) -> str:
    parts = urlsplit(target_url)
    if component == "@method":
        return method.upper()
    if component == "@target-uri":
        return target_url
    if component == "@authority":
        return parts.netloc.lower()
    if component == "@scheme":
        return parts.scheme.lower()
    if component == "@path":
        return parts.path or "/"
    if component == "@query":
        return "?" + parts.query
    if component == "@request-target":
        return (parts.path or "/") + ("?" + parts.query if parts.query else "")
    if component.startswith("@"):
        raise SignatureError(f"unsupported derived component {component}")
    if params:
        raise SignatureError(f"unsupported component parameters {params} on {component}")
    value = headers.get(component)
    if value is None:
        raise SignatureError(f"the signed header {component!r} is missing")
    return value.strip()


def parse_rfc9421(method: str, target_url: str, headers: Mapping[str, str]) -> ParsedSignature:
    """Parse the first signature of `Signature-Input` / `Signature` (RFC 9421)."""
    inputs = {m.group(1): m.group(2) for m in _SF_MEMBER.finditer(headers["signature-input"])}
    signatures = {
        m.group(1): m.group(2) for m in _SF_SIGNATURE.finditer(headers.get("signature", ""))
    }
    label = next((name for name in inputs if name in signatures), None)
    if label is None:
        raise SignatureError("Signature-Input names no signature found in Signature")
    signature_params = inputs[label]
    inner, _, param_text = signature_params.partition(")")
    items = _SF_ITEM.findall(inner[1:])
    params = {
        m.group(1): m.group(2) if m.group(2) is not None else m.group(3)
        for m in _SF_PARAM.finditer(param_text)
    }
    lines = []
    for component, component_params in items:
        value = _derived(component, component_params, method, target_url, headers)
        lines.append(f'"{component}"{component_params}: {value}')
    lines.append(f'"@signature-params": {signature_params}')
    try:
        signature = base64.b64decode(signatures[label], validate=True)
    except ValueError:
        raise SignatureError("the signature is not valid base64") from None
    if "keyid" not in params:
        raise SignatureError("Signature-Input lacks keyid")
    created, expires = _seconds(params.get("created")), _seconds(params.get("expires"))
    return ParsedSignature(
        params["keyid"],
        params.get("alg", "").lower(),
        tuple(c for c, _ in items),
        signature,
        "\n".join(lines).encode(),
        created,
        expires,
        "rfc9421",
        params,
    )


def parse(method: str, target_url: str, headers: Mapping[str, str]) -> ParsedSignature:
    """Parse whichever signature scheme the request uses (RFC 9421 preferred)."""
    if "signature-input" in headers:
        return parse_rfc9421(method, target_url, headers)
    return parse_cavage(method, target_url, headers)


def covers_body(parsed: ParsedSignature) -> bool:
    return "digest" in parsed.covered or "content-digest" in parsed.covered


def signed_digest_matches(parsed: ParsedSignature, headers: Mapping[str, str], body: bytes) -> bool:
    """The body matches the digests the signature covers (at least one SHA-256/512 among
    them); a digest header it does not cover proves nothing and is not read."""
    signed = {name: headers[name] for name in ("digest", "content-digest") if name in headers}
    signed = {name: value for name, value in signed.items() if name in parsed.covered}
    return body_digest_matches(signed, body) is True


# --- verification ----------------------------------------------------------------------


def verify(parsed: ParsedSignature, key: PublicKey) -> None:
    """Raise SignatureError unless `parsed.signature` is `key`'s signature of `parsed.base`."""
    try:
        if isinstance(key, rsa.RSAPublicKey):
            if parsed.algorithm == "rsa-pss-sha512":
                key.verify(
                    parsed.signature,
                    parsed.base,
                    padding.PSS(padding.MGF1(hashes.SHA512()), 64),
                    hashes.SHA512(),
                )
            elif parsed.algorithm in ("rsa-sha512",):
                key.verify(parsed.signature, parsed.base, padding.PKCS1v15(), hashes.SHA512())
            else:  # rsa-sha256, rsa-v1_5-sha256, hs2019 (which means SHA-256 for RSA in practice)
                key.verify(parsed.signature, parsed.base, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(parsed.signature, parsed.base)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(parsed.signature, parsed.base, ec.ECDSA(hashes.SHA256()))
        else:
            raise SignatureError("unsupported key type")
    except InvalidSignature:
        raise SignatureError("the signature does not verify") from None


def check_coverage(
    parsed: ParsedSignature, target_url: str, headers: Mapping[str, str], has_body: bool
) -> None:
    """Refuse a signature that does not bind it to this request: its method and target, the
    host it was meant for, and the body (through its digest) when there is one.

    cavage: `(request-target)` and `host`. RFC 9421: `@method`; the target as `@target-uri`,
    `@request-target`, or `@path` (with `@query` when the URL has a query); the host as
    `@authority` or `host` (`@target-uri` names it too). Both: `digest` or `content-digest`
    when there is a body. A signed Host header must name `target_url`'s host: a request
    signed for another node is not valid here. Freshness has its own rule (check_freshness).
    """
    covered = set(parsed.covered)
    if "host" in covered and not _same_authority(headers.get("host", ""), target_url):
        raise SignatureError("the signed Host header names another host")
    if parsed.scheme == "cavage":
        missing = [name for name in ("(request-target)", "host") if name not in covered]
    else:
        missing = [] if "@method" in covered else ["@method"]
        has_query = bool(urlsplit(target_url).query)
        if not covered & {"@target-uri", "@request-target"}:
            if "@path" not in covered:
                missing.append("@target-uri")
            elif has_query and "@query" not in covered:
                missing.append("@query")
        if not covered & {"@authority", "host", "@target-uri"}:
            missing.append("@authority")
    if has_body and not covered & {"digest", "content-digest"}:
        missing.append("content-digest" if parsed.scheme == "rfc9421" else "digest")
    if missing:
        raise SignatureError(f"the signature does not cover {', '.join(missing)}")


def _same_authority(host_header: str, url: str) -> bool:
    try:
        host, port = split_authority(host_header)
        ours, our_port = host_port(url)
    except InvalidValue:
        return False
    return host == ours and (port or DEFAULT_PORTS[urlsplit(url).scheme.lower()]) == our_port


def check_freshness(
    parsed: ParsedSignature, headers: Mapping[str, str], now: float, window: float
) -> None:
    """Refuse a signature made outside `window` seconds of `now`, judged only by what it
    signs: the creation time when covered (`(created)`; RFC 9421's `created` parameter always
    is), else a covered Date header. A signature that covers neither is refused — its age is
    unknowable, so it could be replayed forever."""
    covers_created = parsed.scheme == "rfc9421" or "(created)" in parsed.covered
    if parsed.created is not None and covers_created:
        moment = float(parsed.created)
    elif "date" in parsed.covered:
        try:
            moment = parse_http_date(headers.get("date")).timestamp()
        except InvalidValue:
            raise SignatureError("the signed Date header is not an HTTP date") from None
    else:
        raise SignatureError("the signature covers neither its creation time nor the Date header")
    if abs(now - moment) > window:
        raise SignatureError("the signature is too old or from the future")
    covers_expires = parsed.scheme == "rfc9421" or "(expires)" in parsed.covered
    if parsed.expires is not None and covers_expires and parsed.expires < now:
        raise SignatureError("the signature has expired")
