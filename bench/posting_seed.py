"""The status-creation benchmark's node: local authors with ~30 local followers each and
followers on 5 remote nodes, written straight into the database (as fan-out and the inbox
would have stored them), so that setting up takes a second."""

from __future__ import annotations

import random
from dataclasses import dataclass

from sqlalchemy import insert, select, update

from bench.seed import seed
from federation.keys import generate_rsa_keypair
from models import allowlist as stored_allowlist
from models.base import utcnow
from models.db import Database
from models.ids import new_id
from models.tables import Account, Follow

REMOTE_HOSTS = tuple(f"r{n}.posting.test" for n in range(5))
REMOTE_PER_HOST = 2
LOCAL_ACCOUNTS = 40
LOCAL_FOLLOWS = 30  # each local account follows 30 of the others: ~30 local followers each
AUTHORS = 8


@dataclass(frozen=True)
class Seeded:
    tokens: dict[int, str]  # author id -> bearer token
    followers: dict[int, list[int]]  # author id -> local follower ids
    follower_tokens: dict[int, str]  # every local account's token


async def seed_posting(url: str, public_url: str) -> Seeded:
    db = Database(url)
    try:
        seeded = await seed(
            db,
            public_url,
            accounts=LOCAL_ACCOUNTS,
            statuses=0,
            follows_per_account=LOCAL_FOLLOWS,
            token_accounts=LOCAL_ACCOUNTS,
            rng=random.Random(7),
        )
        authors = sorted(seeded.tokens)[:AUTHORS]
        await _remote_followers(db, authors)
        followers: dict[int, list[int]] = {}
        private_pem, public_pem = generate_rsa_keypair()  # one for all: they sign deliveries
        async with db.write() as session:
            for author in authors:
                followers[author] = list(
                    (
                        await session.execute(
                            select(Follow.account_id)
                            .join(Account, Account.id == Follow.account_id)
                            .where(Follow.target_account_id == author, Account.domain.is_(None))
                        )
                    ).scalars()
                )
                total = len(followers[author]) + len(REMOTE_HOSTS) * REMOTE_PER_HOST
                await session.execute(
                    update(Account)
                    .where(Account.id == author)
                    .values(
                        followers_count=total,
                        private_key_pem=private_pem,
                        public_key_pem=public_pem,
                    )
                )
        return Seeded({a: seeded.tokens[a] for a in authors}, followers, seeded.tokens)
    finally:
        await db.dispose()


async def _remote_followers(db: Database, authors: list[int]) -> None:
    _, public_pem = generate_rsa_keypair()
    now = utcnow()
    accounts, follows = [], []
    for host in REMOTE_HOSTS:
        for n in range(REMOTE_PER_HOST):
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
            for author in authors:
                follows.append(
                    {
                        "id": new_id(),
                        "account_id": account_id,
                        "target_account_id": author,
                        "uri": f"{actor}#follows/{author}",
                    }
                )
    async with db.write() as session:
        await stored_allowlist.seed(session, REMOTE_HOSTS)
        await session.execute(insert(Account), accounts)
        await session.execute(insert(Follow), follows)
