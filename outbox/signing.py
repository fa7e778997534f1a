"""Signing identities: each local actor's key, and the instance actor for the node's fetches.

Loading a private key from PEM costs ~38 ms, so parsed keys are cached (federation.keys);
the instance actor's key pair is created once and kept in the database for every process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from federation.httpsig_sign import sign_request
from federation.keys import PrivateKey, generate_rsa_keypair, load_private_key
from models.db import Database
from models.federation import NodeKey

INSTANCE_KEY = "instance-actor"
Signer = Callable[[str, str, dict[str, str], bytes | None], dict[str, str]]


@dataclass(frozen=True)
class Identity:
    key_id: str
    private_key: PrivateKey

    def signer(self) -> Signer:
        def sign(
            method: str, url: str, headers: dict[str, str], body: bytes | None
        ) -> dict[str, str]:
            return sign_request(method, url, headers, self.key_id, self.private_key, body)

        return sign


def identity(key_id: str, private_key_pem: str) -> Identity:
    return Identity(key_id, load_private_key(private_key_pem))


async def instance_key_pair(db: Database) -> tuple[str, str]:
    """(private PEM, public PEM) of the instance actor, created on first use."""
    async with db.read() as session:
        row = await session.get(NodeKey, INSTANCE_KEY)
    if row is not None:
        return row.private_key_pem, row.public_key_pem
    private_pem, public_pem = await asyncio.to_thread(generate_rsa_keypair)
    try:
        async with db.write() as session:
            session.add(
                NodeKey(name=INSTANCE_KEY, private_key_pem=private_pem, public_key_pem=public_pem)
            )
    except IntegrityError:
        pass  # another process created it first; use theirs
    async with db.read() as session:
        stored = (
            await session.execute(select(NodeKey).where(NodeKey.name == INSTANCE_KEY))
        ).scalar_one()
    return stored.private_key_pem, stored.public_key_pem
