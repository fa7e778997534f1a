"""The fan-out benchmark's network: its shape, and the remote followers written straight into
the node's database (as the inbox would have stored them: accounts with an inbox and a shared
inbox, and follow rows), so that 10,000 take seconds."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import insert, select, text, update

from federation.keys import generate_rsa_keypair
from models.account import Account
from models.base import utcnow
from models.db import Database
from models.ids import new_id
from models.relationship import Follow

DOMAIN = "flurfunk.test"
BARRED = f"barred.{DOMAIN}"  # followers here are not on the allowlist: they get nothing


@dataclass(frozen=True)
class Shape:
    hosts: int
    followers_per_host: int
    posts: int

    @property
    def host_names(self) -> list[str]:
        return [f"n{n:02d}.{DOMAIN}" for n in range(self.hosts)]

    @property
    def followers(self) -> int:
        return self.hosts * self.followers_per_host


async def seed_followers(db: Database, author_name: str, shape: Shape) -> float:
    """Remote accounts and their follows of the author, written directly; returns seconds."""
    started = time.perf_counter()
    now = utcnow()
    # Rows as wide as real ones: a remote account carries its public key (one for all here).
    _, public_pem = generate_rsa_keypair()
    async with db.read() as session:
        author_id = await session.scalar(
            select(Account.id).where(Account.username == author_name, Account.domain.is_(None))
        )
    assert author_id is not None
    hosts = [*shape.host_names, BARRED]
    for host in hosts:
        accounts, follows = [], []
        for n in range(shape.followers_per_host):
            account_id = new_id()
            actor = f"http://{host}/users/f{n}"
            accounts.append(
                {
                    "id": account_id,
                    "username": f"f{n}",
                    "domain": host,
                    "display_name": f"Follower {n}",
                    "note": "",
                    "note_source": "",
                    "fields": [],
                    "uri": actor,
                    "url": f"http://{host}/@f{n}",
                    "inbox_url": actor + "/inbox",
                    "shared_inbox_url": f"http://{host}/inbox",
                    "followers_url": actor + "/followers",
                    "public_key_pem": public_pem,
                    "fetched_at": now,
                }
            )
            follows.append(
                {
                    "id": new_id(),
                    "account_id": account_id,
                    "target_account_id": author_id,
                    "uri": f"{actor}#follows/{n}",
                }
            )
        async with db.write() as session:
            await session.execute(insert(Account), accounts)
            await session.execute(insert(Follow), follows)
    async with db.write() as session:
        await session.execute(
            update(Account)
            .where(Account.id == author_id)
            .values(followers_count=len(hosts) * shape.followers_per_host)
        )
    if not db.is_sqlite:
        # As autovacuum does within a minute of a bulk insert: without statistics, PostgreSQL
        # plans the audience query for 10 followers instead of 10,000.
        async with db.engine.connect() as connection:
            await connection.execute(text("ANALYZE accounts, follows"))
            await connection.commit()
    return time.perf_counter() - started


async def author_keys(db: Database, author_name: str) -> tuple[str, str, str]:
    """(actor URI, public PEM, private PEM) of the author."""
    async with db.read() as session:
        row = (
            await session.execute(
                select(Account.uri, Account.public_key_pem, Account.private_key_pem).where(
                    Account.username == author_name, Account.domain.is_(None)
                )
            )
        ).one()
    return row.uri or "", row.public_key_pem or "", row.private_key_pem or ""
