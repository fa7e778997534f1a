"""Object Integrity Proofs (FEP-8b32, eddsa-jcs-2022): made with our keys, checked against
the W3C test vector, and refused when anything about them is off."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from federation.proofs import (
    ProofError,
    assertion_key,
    canonical_json,
    decode_multibase,
    encode_multibase,
    multikey_of,
    public_key_from_multikey,
    sign,
    verification_methods,
    verify,
)

REAL_WORLD = Path(__file__).parents[2] / "data" / "real-world"
FEDIFY_FOLLOW = json.loads((REAL_WORLD / "fedify_follow_1.json").read_text())
ACTOR = "http://localhost:39805/users/fed"
KEY_ID = ACTOR + "#multikey-1"
CREATED = "2026-12-07T05:00:00Z"


def unproven(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k not in ("proof", "signature")}


def test_a_proof_we_make_verifies_and_names_its_key() -> None:
    key = Ed25519PrivateKey.generate()
    signed = sign(unproven(FEDIFY_FOLLOW), key, KEY_ID, CREATED)
    assert signed["proof"]["@context"] == FEDIFY_FOLLOW["@context"]
    assert verification_methods(signed) == [KEY_ID]
    proof = verify(signed, KEY_ID, key.public_key())
    assert (proof.verification_method, proof.purpose, proof.created) == (
        KEY_ID,
        "assertionMethod",
        CREATED,
    )


def test_a_linked_data_signature_added_after_the_proof_does_not_break_it() -> None:
    key = Ed25519PrivateKey.generate()
    signed = sign(unproven(FEDIFY_FOLLOW), key, KEY_ID, CREATED)
    signed["signature"] = FEDIFY_FOLLOW["signature"]  # Fedify signs in this order
    verify(signed, KEY_ID, key.public_key())


def test_a_changed_document_another_key_or_a_broken_proof_is_refused() -> None:
    key = Ed25519PrivateKey.generate()
    signed = sign(unproven(FEDIFY_FOLLOW), key, KEY_ID, CREATED)
    changed = dict(signed, object="http://localhost:41419/users/someone-else")
    foreign_context = dict(signed, proof=dict(signed["proof"], **{"@context": ["x"]}))
    cases = {
        "changed": (changed, KEY_ID, key),
        "other key": (signed, KEY_ID, Ed25519PrivateKey.generate()),
        "other key id": (signed, ACTOR + "#other", key),
        "context": (foreign_context, KEY_ID, key),
        "value": (dict(signed, proof=dict(signed["proof"], proofValue="z1")), KEY_ID, key),
        "not base58": (dict(signed, proof=dict(signed["proof"], proofValue="z0OIl")), KEY_ID, key),
        "no proof": (unproven(signed), KEY_ID, key),
    }
    for name, (document, key_id, private) in cases.items():
        with pytest.raises(ProofError):  # noqa: PT012 (the name says which case did not raise)
            verify(document, key_id, private.public_key())
            pytest.fail(name)


def test_the_w3c_eddsa_jcs_2022_test_vector_verifies() -> None:
    # W3C Data Integrity EdDSA Cryptosuites v1.0, "Representation: eddsa-jcs-2022".
    context = [
        "https://www.w3.org/ns/credentials/v2",
        "https://www.w3.org/ns/credentials/examples/v2",
    ]
    did = "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
    key_id = did + "#z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
    credential = {
        "@context": context,
        "id": "urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33",
        "type": ["VerifiableCredential", "AlumniCredential"],
        "name": "Alumni Credential",
        "description": "A minimum viable example of an Alumni Credential.",
        "issuer": "https://vc.example/issuers/5678",
        "validFrom": "2023-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:abcdefgh", "alumniOf": "The School of Examples"},
        "proof": {
            "type": "DataIntegrityProof",
            "cryptosuite": "eddsa-jcs-2022",
            "created": "2023-02-24T23:36:38Z",
            "verificationMethod": key_id,
            "proofPurpose": "assertionMethod",
            "@context": context,
            "proofValue": "z2HnFSSPPBzR36zdDgK8PbEHeXbR56YF24jwMpt3R1eHXQzJ"
            "DMWS93FCzpvJpwTWd3GAVFuUfjoJdcnTMuVor51aX",
        },
    }
    public_key = public_key_from_multikey("z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2")
    verify(credential, key_id, public_key)


def test_an_actors_multikey_is_found_among_its_assertion_methods() -> None:
    key = Ed25519PrivateKey.generate()
    actor = {
        "id": ACTOR,
        "type": "Person",
        "assertionMethod": [
            {
                "id": KEY_ID,
                "type": "Multikey",
                "controller": ACTOR,
                "publicKeyMultibase": multikey_of(key.public_key()),
            }
        ],
    }
    signed = sign(unproven(FEDIFY_FOLLOW), key, KEY_ID, CREATED)
    verify(signed, KEY_ID, assertion_key(actor, KEY_ID))
    with pytest.raises(ProofError):
        assertion_key(actor, ACTOR + "#missing")
    stolen = dict(actor, id="http://localhost:39805/users/mallory")
    with pytest.raises(ProofError):
        assertion_key(stolen, KEY_ID)  # a key another actor controls


def test_fedifys_proof_has_the_shape_we_verify() -> None:
    assert verification_methods(FEDIFY_FOLLOW) == [ACTOR + "#multikey-2"]
    assert len(decode_multibase(FEDIFY_FOLLOW["proof"]["proofValue"])) == 64


def test_multibase_round_trips_and_refuses_what_is_not_base58btc() -> None:
    for raw in (b"", b"\0\0abc", bytes(range(256))[:64]):
        assert decode_multibase(encode_multibase(raw)) == raw
    for bad in (None, 7, "m1234", "z" + "2" * 500, "z0"):
        with pytest.raises(ProofError):
            decode_multibase(bad)


def test_canonical_json_follows_rfc_8785() -> None:
    # The example of RFC 8785, section 3.2.2.
    value = json.loads(
        '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
        ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
        ' "literals": [null, true, false]}'
    )
    assert (
        canonical_json(value)
        == (
            '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
            '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
        ).encode()
    )
    assert (
        canonical_json({"€": 1, "\r": 2, "😀": 3, "a": 1})
        == '{"\\r":2,"a":1,"€":1,"😀":3}'.encode()
    )
    assert (
        canonical_json([1e21, 1e20, 1e-7, 1e-6, -0.0, 10])
        == b"[1e+21,100000000000000000000,1e-7,0.000001,0,10]"
    )
    for bad in (float("nan"), {"a": float("inf")}, {1, 2}):
        with pytest.raises(ProofError):
            canonical_json(bad)
