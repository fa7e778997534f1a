"""Each local actor's Ed25519 assertion key (FEP-521a), for Object Integrity Proofs (FEP-8b32).

The key is derived from the actor's RSA private key (a hash of it is the Ed25519 seed), so it
needs no column of its own, is as secret as that key, and changes when it changes. A member's
post carries a proof by this key, so that the group's node can forward it unchanged and the
members' nodes can check who wrote it although the HTTP signature is the group's.
"""

from __future__ import annotations

import hashlib
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from federation import proofs
from models.account import Account
from models.base import utcnow

SEED_LABEL = b"flurfunk ed25519 assertion key\x00"


def _private_key(account: Account) -> Ed25519PrivateKey:
    if not account.private_key_pem:
        raise ValueError(f"{account.username} has no private key")
    seed = hashlib.sha256(SEED_LABEL + account.private_key_pem.encode()).digest()
    return Ed25519PrivateKey.from_private_bytes(seed)


def key_id(actor_uri: str) -> str:
    return actor_uri + "#ed25519-key"


def assertion_methods(actor_uri: str, account: Account) -> list[dict[str, Any]]:
    """The `assertionMethod` of a local actor's document."""
    if not account.private_key_pem:
        return []
    public = proofs.multikey_of(_private_key(account).public_key())
    return [
        {
            "id": key_id(actor_uri),
            "type": "Multikey",
            "controller": actor_uri,
            "publicKeyMultibase": public,
        }
    ]


def signed(actor_uri: str, account: Account, activity: dict[str, Any]) -> dict[str, Any]:
    """`activity` with a proof by the local actor's assertion key."""
    created = utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
    return proofs.sign(activity, _private_key(account), key_id(actor_uri), created)
