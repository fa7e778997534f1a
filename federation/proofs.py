"""Object Integrity Proofs (FEP-8b32): Data Integrity proofs with the `eddsa-jcs-2022` suite.

A proof signs the JSON document itself, not the HTTP request that carried it, so it stays
valid when someone else forwards the activity (a group relaying a member's post): it can
stand for the author's signature where the HTTP signature is the forwarder's.

eddsa-jcs-2022 (W3C Data Integrity EdDSA Cryptosuites v1.0): the proof options (the proof
without `proofValue`, carrying the document's `@context`) and the document without its proof
are each canonicalised with JCS (RFC 8785) and hashed with SHA-256; the Ed25519 signature
covers the two hashes, options first. `proofValue` is the signature in multibase base58btc,
the key an Ed25519 Multikey (`publicKeyMultibase`, multicodec 0xed01). No JSON-LD processing
is involved, so a proof is checked in microseconds and whatever its contexts say.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SUITE = "eddsa-jcs-2022"
PROOF_TYPE = "DataIntegrityProof"
ED25519_MULTICODEC = b"\xed\x01"
BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
MAX_MULTIBASE = 200  # characters: a 64-byte signature is 88; longer input is refused unread


class ProofError(ValueError):
    """A proof that is missing, malformed, or does not verify."""


@dataclass(frozen=True)
class Proof:
    """A proof that verified: who vouches for the document (a key id), and what for."""

    verification_method: str
    purpose: str
    created: str | None


def verification_methods(document: dict[str, Any]) -> list[str]:
    """The key ids of the document's eddsa-jcs-2022 proofs (what to fetch to verify them)."""
    return [p["verificationMethod"] for p in _suite_proofs(document)]


def verify(document: dict[str, Any], key_id: str, public_key: Ed25519PublicKey) -> Proof:
    """The document's proof made with `key_id`, if it verifies with `public_key`."""
    for proof in _suite_proofs(document):
        if proof["verificationMethod"] != key_id:
            continue
        signature = decode_multibase(proof.get("proofValue"))
        options = {k: v for k, v in proof.items() if k != "proofValue"}
        for message in _messages(document, options):
            try:
                public_key.verify(signature, _hash_data(options, message))
            except InvalidSignature:
                continue
            return Proof(key_id, str(proof.get("proofPurpose", "")), _text(proof.get("created")))
        raise ProofError("the proof does not match the document")
    raise ProofError(f"the document carries no {SUITE} proof by {key_id}")


def sign(
    document: dict[str, Any], private_key: Ed25519PrivateKey, key_id: str, created: str
) -> dict[str, Any]:
    """The document with an eddsa-jcs-2022 proof by `key_id` (any earlier proof replaced)."""
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    options: dict[str, Any] = {
        "type": PROOF_TYPE,
        "cryptosuite": SUITE,
        "verificationMethod": key_id,
        "proofPurpose": "assertionMethod",
        "created": created,
    }
    if "@context" in unsecured:
        options = {"@context": unsecured["@context"], **options}
    signature = private_key.sign(_hash_data(options, unsecured))
    return {**unsecured, "proof": {**options, "proofValue": encode_multibase(signature)}}


def _suite_proofs(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    proofs = document.get("proof")
    for proof in proofs if isinstance(proofs, list) else [proofs]:
        if (
            isinstance(proof, dict)
            and proof.get("type") == PROOF_TYPE
            and proof.get("cryptosuite") == SUITE
            and isinstance(proof.get("verificationMethod"), str)
        ):
            yield proof


def _messages(document: dict[str, Any], options: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """What the proof may have signed: the document without its proofs; and without its
    Linked Data signature too, which some servers (Fedify) add after the proof."""
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    if "@context" in options:
        # The proof's context must be the document's, or the start of it (the spec's check).
        mine, theirs = _as_list(options["@context"]), _as_list(document.get("@context"))
        if theirs[: len(mine)] != mine:
            raise ProofError("the proof's context is not the document's")
        unsecured["@context"] = options["@context"]
    yield unsecured
    if "signature" in unsecured:
        yield {k: v for k, v in unsecured.items() if k != "signature"}


def _hash_data(options: dict[str, Any], message: dict[str, Any]) -> bytes:
    return (
        hashlib.sha256(canonical_json(options)).digest()
        + hashlib.sha256(canonical_json(message)).digest()
    )


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


# --- keys ------------------------------------------------------------------------------------


def public_key_from_multikey(value: Any) -> Ed25519PublicKey:
    """An Ed25519 key from a Multikey's `publicKeyMultibase` ("z6Mk…")."""
    raw = decode_multibase(value)
    if len(raw) != 34 or not raw.startswith(ED25519_MULTICODEC):
        raise ProofError("the key is not an Ed25519 Multikey")
    return Ed25519PublicKey.from_public_bytes(raw[2:])


def multikey_of(public_key: Ed25519PublicKey) -> str:
    """`publicKeyMultibase` for an Ed25519 key."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return encode_multibase(
        ED25519_MULTICODEC + public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    )


def assertion_key(actor: dict[str, Any], key_id: str) -> Ed25519PublicKey:
    """The Multikey `key_id` among an actor document's assertion methods (FEP-521a)."""
    methods = actor.get("assertionMethod")
    for method in methods if isinstance(methods, list) else [methods]:
        if isinstance(method, dict) and method.get("id") == key_id:
            if method.get("type") != "Multikey" or method.get("controller") != actor.get("id"):
                raise ProofError(f"{key_id} is not a Multikey of {actor.get('id')}")
            return public_key_from_multikey(method.get("publicKeyMultibase"))
    raise ProofError(f"{actor.get('id')} names no assertion method {key_id}")


# --- multibase base58btc ---------------------------------------------------------------------


def encode_multibase(raw: bytes) -> str:
    number = int.from_bytes(raw, "big")
    digits = []
    while number:
        number, digit = divmod(number, 58)
        digits.append(BASE58[digit])
    zeros = len(raw) - len(raw.lstrip(b"\0"))
    return "z" + "1" * zeros + "".join(reversed(digits))


def decode_multibase(value: Any) -> bytes:
    """Bytes of a base58btc multibase string ("z…"); the only base these proofs use."""
    if not isinstance(value, str) or not value.startswith("z") or len(value) > MAX_MULTIBASE:
        raise ProofError("expected a base58btc multibase value")
    number = 0
    for char in value[1:]:
        digit = BASE58.find(char)
        if digit < 0:
            raise ProofError("not base58btc")
        number = number * 58 + digit
    zeros = len(value[1:]) - len(value[1:].lstrip("1"))
    return b"\0" * zeros + number.to_bytes((number.bit_length() + 7) // 8, "big")


# --- JCS (RFC 8785) --------------------------------------------------------------------------


def canonical_json(value: Any) -> bytes:
    """The JSON Canonicalization Scheme form of `value`, as UTF-8."""
    try:
        return _jcs(value).encode("utf-8")
    except (RecursionError, UnicodeEncodeError) as exc:
        raise ProofError(f"cannot canonicalise the document: {type(exc).__name__}") from None


def _jcs(value: Any) -> str:
    if value is None or isinstance(value, bool | str):
        # json.dumps escapes exactly what JCS escapes when non-ASCII is kept as it is.
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, list):
        return "[" + ",".join(_jcs(item) for item in value) + "]"
    if isinstance(value, dict):
        # Members sorted by their names' UTF-16 code units.
        names = sorted(value, key=lambda name: name.encode("utf-16-be"))
        return "{" + ",".join(f"{_jcs(n)}:{_jcs(value[n])}" for n in names) + "}"
    raise ProofError(f"not JSON: {type(value).__name__}")


def _number(value: float) -> str:
    """ECMAScript's Number.prototype.toString, which JCS prescribes for every number."""
    number = float(value)
    if not math.isfinite(number):
        raise ProofError("not a JSON number")
    if number == 0:
        return "0"
    # repr gives the shortest digits that read back as the same double, as ECMAScript does.
    _, digit_tuple, exponent = Decimal(repr(abs(number))).as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    exponent += len(digits) - len(digits.rstrip("0"))
    digits = digits.rstrip("0")
    count, point = len(digits), exponent + len(digits)  # value = 0.DIGITS x 10^point
    if count <= point <= 21:
        text = digits + "0" * (point - count)
    elif 0 < point <= 21:
        text = digits[:point] + "." + digits[point:]
    elif -6 < point <= 0:
        text = "0." + "0" * -point + digits
    else:
        fraction = "." + digits[1:] if count > 1 else ""
        text = f"{digits[0]}{fraction}e{point - 1:+d}"
    return ("-" if number < 0 else "") + text
