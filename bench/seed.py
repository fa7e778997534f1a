"""Bulk-seed a node's database for benchmarks: accounts, follows, statuses, home feeds.

Writes rows directly (not through the API) so that 100,000 statuses take seconds, and
produces exactly what the API would have written: the home feed of every local follower
holds every status of the accounts it follows (fan-out on write).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from sqlalchemy import insert

from models.db import Database
from models.ids import new_id
from models.tables import AccessToken, Account, FeedEntry, Follow, Status, User
from web.auth import digest, hash_password, new_token

CHUNK = 5_000


@dataclass
class Seeded:
    account_ids: list[int]
    tokens: dict[int, str]  # account id -> bearer token
    statuses: int
    feed_entries: int
    seconds: float


async def _insert(db: Database, model: object, rows: list[dict[str, object]]) -> None:
    for start in range(0, len(rows), CHUNK):
        async with db.write() as session:
            await session.execute(insert(model), rows[start : start + CHUNK])  # type: ignore[arg-type]


async def seed(
    db: Database,
    public_url: str,
    *,
    accounts: int,
    statuses: int,
    follows_per_account: int,
    token_accounts: int,
    rng: random.Random,
) -> Seeded:
    started = time.perf_counter()
    password_hash = hash_password("bench-password")
    account_rows, user_rows = [], []
    for i in range(accounts):
        account_id = new_id()
        name = f"bench{i}"
        account_rows.append(
            {
                "id": account_id,
                "username": name,
                "domain": None,
                "display_name": f"Bench {i}",
                "note": "",
                "note_source": "",
                "fields": [],
                "uri": f"{public_url}/users/{name}",
                "url": f"{public_url}/@{name}",
            }
        )
        user_rows.append(
            {
                "account_id": account_id,
                "email": f"{name}@bench.example",
                "password_hash": password_hash,
                "role": "user",
                "preferences": {},
            }
        )
    await _insert(db, Account, account_rows)
    await _insert(db, User, user_rows)
    ids = [row["id"] for row in account_rows]

    followers: dict[int, list[int]] = {a: [] for a in ids}
    follow_rows = []
    for a in ids:
        for target in rng.sample([x for x in ids if x != a], follows_per_account):
            follow_rows.append(
                {
                    "id": new_id(),
                    "account_id": a,
                    "target_account_id": target,
                    "show_reblogs": True,
                    "notify": False,
                }
            )
            followers[target].append(a)
    await _insert(db, Follow, follow_rows)

    # Statuses spread over the last 100 days, oldest first so ids grow with time.
    now_ms = int(time.time() * 1000)
    span_ms = 100 * 86_400_000
    status_rows, feed_rows = [], []
    for n in range(statuses):
        at_ms = now_ms - span_ms + (span_ms * n) // statuses
        author = rng.choice(ids)
        status_id = new_id(at_ms)
        status_rows.append(
            {
                "id": status_id,
                "account_id": author,
                "local": True,
                "text": f"Status number {n}",
                "content": f"<p>Status number {n}</p>",
                "visibility": "public",
                "thread_id": status_id,
            }
        )
        for reader in (author, *followers[author]):
            feed_rows.append({"account_id": reader, "status_id": status_id, "author_id": author})
        if len(status_rows) >= CHUNK * 4:
            await _insert(db, Status, status_rows)
            await _insert(db, FeedEntry, feed_rows)
            status_rows, feed_rows = [], []
    await _insert(db, Status, status_rows)
    await _insert(db, FeedEntry, feed_rows)

    tokens = {}
    token_rows = []
    for account_id in rng.sample(ids, token_accounts):
        token = new_token()
        tokens[account_id] = token
        token_rows.append(
            {
                "id": new_id(),
                "token_hash": digest(token),
                "account_id": account_id,
                "scopes": "read write follow",
            }
        )
    await _insert(db, AccessToken, token_rows)
    total_feed = statuses * (1 + follows_per_account)  # each author has ~follows followers
    return Seeded(ids, tokens, statuses, total_feed, time.perf_counter() - started)
