"""A simulated company day: many real nodes, their staff seeded straight into each database, and
a workload of everything staff do (posts with mentions and hashtags, replies, favourites,
boosts, direct messages, media, group posts, follows and unfollows, edits and deletes) driven
through the client API, with one node killed (SIGKILL) and restarted in the middle.

Afterwards `account()` checks every write on every node that should have it, through the
Mastodon API: each follower's home timeline holds each expected status exactly once (edited
text, media attached), no deleted or misaddressed status, favourite and boost counts on the
author's node match what was done, and follows and unfollows look the same from both sides.

Its three-node, half-minute test is tests/integration/test_company_day.py (embedded nodes on
SQLite only). Used by bench/company.py (ten nodes, 2,000 staff, a busy hour
compressed into minutes), which adds the clock: the times kept here (when a write was sent,
when a stream showed it) are only read there.

Seeding: staff accounts, tokens and follows are written into each node's database as the API
and the inbox would have written them. A follow across nodes is seeded consistently on both
sides: on the follower's node the remote target's account row and the Follow row with the
Follow activity's id (`<actor>#follows/<row id>`, as outbox/relationship_activities.py names
it), on the target's node the remote follower's account row and a Follow row with the same
id. All staff of one node share one RSA key pair (generating 2,000 keys would take minutes);
signatures are checked as usual. Follows made during the day are real federated follows.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import math
import os
import random
import secrets
import shutil
import subprocess
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from PIL import Image
from sqlalchemy import func, insert, select, update

from federation.keys import generate_rsa_keypair
from models.account import Account, User
from models.base import utcnow
from models.db import Database
from models.ids import new_id
from models.oauth import AccessToken
from models.relationship import Follow
from tests.company_streams import Streams, stream_of
from tests.federation_kit import DOMAIN, FedNode, Network, Plan, _wire, wait_for
from tests.kit import FLURFUNK, postgres_available, postgres_database, require_service
from tests.scale_kit import ScaledNode, fresh_redis
from web.auth import digest, hash_password

SCOPES = "read write follow push"
START_LIMIT = 600.0  # seconds a node may take to start while the others start and work
HASHTAGS = ("launch", "quarterly", "kantine", "security", "release", "offsite", "hiring")


# --- the network ---------------------------------------------------------------------------


@contextlib.contextmanager
def company_network(
    tmp: Path, names: list[str], scaled: Mapping[str, str] | None = None
) -> Iterator[Network]:
    """Nodes that all allow `*.flurfunk.test`: embedded on SQLite, except those in `scaled`
    (name -> Redis URL), which run `serve --workers 2` + a worker on PostgreSQL."""
    scaled = scaled or {}
    if scaled:
        available, reason = postgres_available()
        require_service("PostgreSQL", available, reason)
        for url in scaled.values():
            fresh_redis(url)
    template = _migrated_sqlite(tmp) if set(names) - set(scaled) else None
    with contextlib.ExitStack() as stack:
        nodes: dict[str, FedNode] = {}
        for name in names:
            data_dir = tmp / f"{name}-{secrets.token_hex(3)}"
            data_dir.mkdir(parents=True)
            if name in scaled:
                url = stack.enter_context(postgres_database())
                nodes[name] = ScaledNode(
                    data_dir=data_dir, database_url=url, name=name, start_limit=START_LIMIT
                )
            else:
                assert template is not None
                shutil.copy(template, data_dir / "flurfunk.db")
                url = f"sqlite+aiosqlite:///{data_dir / 'flurfunk.db'}"
                nodes[name] = FedNode(
                    data_dir=data_dir, database_url=url, name=name, start_limit=START_LIMIT
                )
        plans = {
            name: Plan(
                allow=(f"*.{DOMAIN}",),
                env={"FLURFUNK_REDIS_URL": scaled[name]} if name in scaled else {},
            )
            for name in names
        }
        _wire(nodes, plans)
        for node in nodes.values():
            stack.callback(node.stop)
        # Start a few at a time: ten at once on a busy 2-core machine only slows each down.
        for start in range(0, len(names), 4):
            batch = [nodes[n] for n in names[start : start + 4]]
            errors = _in_threads([n.start for n in batch])
            if errors:
                raise errors[0]
        yield Network(nodes)


def _migrated_sqlite(tmp: Path) -> Path:
    """One SQLite database migrated once and copied for every embedded node: migrating each
    costs seconds of CPU apiece, minutes on a machine this busy."""
    path = tmp / "template.db"
    env = {
        **os.environ,
        "FLURFUNK_DATA_DIR": str(tmp),
        "FLURFUNK_DATABASE_URL": f"sqlite+aiosqlite:///{path}",
        "FLURFUNK_CONFIG": str(tmp / "none.toml"),
    }
    subprocess.run([FLURFUNK, "migrate"], env=env, check=True, capture_output=True, timeout=600)
    return path


def _in_threads(calls: list[Callable[[], object]]) -> list[BaseException]:
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(len(calls)) as pool:
        futures = [pool.submit(c) for c in calls]
    return [e for f in futures if (e := f.exception()) is not None]


# --- the staff -----------------------------------------------------------------------------


@dataclass
class Person:
    index: int
    node: str
    name: str
    token: str = ""
    streaming: bool = False


@dataclass
class Company:
    net: Network
    people: list[Person]
    follows: set[tuple[int, int]]  # (follower, followed), by person index
    # (node, person index) -> that person's account id on that node, where the node knows them
    account_ids: dict[tuple[str, int], str] = field(default_factory=dict)
    group: Group | None = None
    seed_seconds: float = 0.0

    def node(self, person: Person) -> FedNode:
        return self.net[person.node]

    def on(self, node: str) -> list[Person]:
        return [p for p in self.people if p.node == node]

    def handle(self, person: Person, seen_from: str) -> str:
        """How `person` is written in a post on `seen_from`'s node."""
        if person.node == seen_from:
            return "@" + person.name
        return f"@{person.name}@{self.net[person.node].domain}"

    def uri(self, person: Person) -> str:
        return f"{self.net[person.node].public_url}/users/{person.name}"


@dataclass
class Group:
    node: str
    name: str
    members: set[int]

    def handle(self, net: Network, seen_from: str) -> str:
        node = net[self.node]
        return f"@{self.name}" if seen_from == self.node else f"@{self.name}@{node.domain}"


def plan_people(
    names: list[str], staff: int, follows_each: int, across: float, seed: int
) -> tuple[list[Person], set[tuple[int, int]]]:
    """Staff spread over the nodes, following like departments do: most inside their node,
    `across` of the follows to colleagues elsewhere."""
    rng = random.Random(seed)
    people = [
        Person(i, names[i % len(names)], f"staff{i}_{secrets.token_hex(2)}") for i in range(staff)
    ]
    by_node: dict[str, list[int]] = defaultdict(list)
    for p in people:
        by_node[p.node].append(p.index)
    pairs: set[tuple[int, int]] = set()
    for p in people:
        inside = [i for i in by_node[p.node] if i != p.index]
        outside = [i for i in range(staff) if people[i].node != p.node]
        for _ in range(follows_each):
            pool = outside if rng.random() < across or not inside else inside
            if pool:
                pairs.add((p.index, rng.choice(pool)))
    return people, pairs


def _account_row(
    node: FedNode, name: str, public_pem: str, private_pem: str | None
) -> dict[str, Any]:
    actor = f"{node.public_url}/users/{name}"
    row: dict[str, Any] = {
        "id": new_id(),
        "username": name,
        "domain": None if private_pem else node.domain,
        "display_name": name.split("_")[0].title(),
        "note": "",
        "note_source": "",
        "fields": [],
        "uri": actor,
        "url": f"{node.public_url}/@{name}",
        "inbox_url": actor + "/inbox",
        "shared_inbox_url": node.public_url + "/inbox",
        "followers_url": actor + "/followers",
        "public_key_pem": public_pem,
    }
    row["private_key_pem"] = private_pem
    row["fetched_at"] = None if private_pem else utcnow()
    return row


async def _seed_node(
    node: FedNode,
    company: Company,
    keys: Mapping[str, tuple[str, str]],
    follow_ids: Mapping[tuple[int, int], int],
) -> None:
    """Write `node`'s local staff (with tokens), the remote staff it knows through a follow,
    and every follow row it holds."""
    name = node.name
    local = company.on(name)
    local_set = {p.index for p in local}
    remote = sorted(
        {b for a, b in company.follows if a in local_set and company.people[b].node != name}
        | {a for a, b in company.follows if b in local_set and company.people[a].node != name}
    )
    private, public = keys[name]
    password = hash_password("company-day")
    ids: dict[int, int] = {}
    accounts, users, tokens = [], [], []
    for p in local:
        row = _account_row(node, p.name, public, private)
        ids[p.index] = row["id"]
        accounts.append(row)
        users.append(
            {
                "account_id": row["id"],
                "email": f"{p.name}@{name}.example",
                "password_hash": password,
                "role": "user",
                "preferences": {},
            }
        )
        p.token = secrets.token_urlsafe(32)
        tokens.append(
            {
                "id": new_id(),
                "token_hash": digest(p.token),
                "account_id": row["id"],
                "scopes": SCOPES,
            }
        )
    for index in remote:
        person = company.people[index]
        row = _account_row(company.net[person.node], person.name, keys[person.node][1], None)
        ids[index] = row["id"]
        accounts.append(row)
    rows = []
    for a, b in company.follows:
        if a not in ids or b not in ids or (a not in local_set and b not in local_set):
            continue
        follower = company.people[a]
        uri = None
        if company.people[b].node != follower.node:  # the Follow activity's id, both sides
            uri = f"{company.uri(follower)}#follows/{follow_ids[(a, b)]}"
        own_row = follow_ids[(a, b)] if a in local_set else new_id()
        rows.append({"id": own_row, "account_id": ids[a], "target_account_id": ids[b], "uri": uri})
    db = Database(node.database_url)
    try:
        async with db.write() as session:
            for start in range(0, len(accounts), 2000):
                await session.execute(insert(Account), accounts[start : start + 2000])
            await session.execute(insert(User), users)
            await session.execute(insert(AccessToken), tokens)
            for start in range(0, len(rows), 5000):
                await session.execute(insert(Follow), rows[start : start + 5000])
            for column, key in (
                (Account.followers_count, Follow.target_account_id),
                (Account.following_count, Follow.account_id),
            ):
                counted = (
                    select(func.count())
                    .select_from(Follow)
                    .where(key == Account.id)
                    .scalar_subquery()
                )
                await session.execute(
                    update(Account).where(Account.domain.is_(None)).values({column: counted})
                )
    finally:
        await db.dispose()
    for index, account_id in ids.items():
        company.account_ids[(name, index)] = str(account_id)


def seed_company(
    net: Network, *, staff: int, follows_each: int, across: float = 0.2, seed: int = 7
) -> Company:
    """Plan and write the staff and their follows into every node (see the module text)."""
    started = time.perf_counter()
    names = list(net.nodes)
    people, pairs = plan_people(names, staff, follows_each, across, seed)
    company = Company(net, people, pairs)
    keys = {name: generate_rsa_keypair() for name in names}
    follow_ids = {pair: new_id() for pair in pairs}

    async def seed_all() -> None:
        for node in net.nodes.values():
            await _seed_node(node, company, keys, follow_ids)

    asyncio.run(seed_all())
    company.seed_seconds = time.perf_counter() - started
    return company


# --- the record of what was written --------------------------------------------------------


@dataclass
class Written:
    """One status written during the day (post, reply, direct message, group post, boost)."""

    uri: str
    local_id: str
    author: int
    kind: str
    visibility: str
    sent_at: float  # perf_counter just before the request
    marker: str  # a word in the text that names this status
    mentions: set[int] = field(default_factory=set)
    group: bool = False
    media: int = 0
    reblog_of: str | None = None
    deleted: bool = False
    frozen: bool = False  # edited or deleted: no one interacts with it any more
    edits: int = 0
    favourited_by: set[int] = field(default_factory=set)
    boosted_by: set[int] = field(default_factory=set)
    busy: int = 0  # interactions under way (it is not edited or deleted meanwhile)


@dataclass
class Ledger:
    statuses: dict[str, Written] = field(default_factory=dict)
    follows: set[tuple[int, int]] = field(default_factory=set)
    churned: set[tuple[int, int]] = field(default_factory=set)  # follows changed today
    answers: Counter[str] = field(default_factory=Counter)  # "kind status" -> count
    server_errors: list[str] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)  # no answer: outcome unknown
    uncertain: set[str] = field(default_factory=set)  # statuses an unanswered write touched
    uncertain_pairs: set[tuple[int, int]] = field(default_factory=set)
    writes: Counter[str] = field(default_factory=Counter)  # accepted writes by kind
    skipped: Counter[str] = field(default_factory=Counter)  # planned but not possible then
    write_times: list[tuple[float, str]] = field(default_factory=list)  # (sent_at, kind)
    # uri -> node -> first moment a stream there showed it; and every (status, listener) time
    frames: list[tuple[str, str, float]] = field(default_factory=list)  # uri, node, moment
    first_seen: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(dict))
    stream_samples: list[tuple[float, float, bool]] = field(default_factory=list)  # sent, ms, cross

    def recent(self, rng: random.Random, test: Callable[[Written], bool]) -> Written | None:
        pool = list(itertools.islice(reversed(self.statuses.values()), 300))
        rng.shuffle(pool)
        return next((w for w in pool if test(w)), None)


class WriteFailed(Exception):
    pass


class Uncertain(WriteFailed):
    """No answer (a timeout on an overloaded machine, a dropped connection): the write may
    or may not have happened, so what it touched is not judged."""


# --- streams -------------------------------------------------------------------------------


def watch_streams(company: Company, people: list[Person], ledger: Ledger) -> Streams:
    """The `user` streams of `people`, watched from child processes into `ledger.frames`."""
    streams = [stream_of(company.node(p).url, p.token, p.node) for p in people]
    return Streams(streams, ledger.frames)


def stream_times(company: Company, ledger: Ledger) -> None:
    """Fill `first_seen` and `stream_samples` from the frames the listeners kept."""
    for uri, node, moment in ledger.frames:
        written = ledger.statuses.get(uri)
        if written is None:
            continue
        seen = ledger.first_seen[uri]
        seen[node] = min(seen.get(node, moment), moment)
        cross = node != company.people[written.author].node
        ledger.stream_samples.append((written.sent_at, (moment - written.sent_at) * 1000, cross))


# --- the workload --------------------------------------------------------------------------

WEIGHTS = {
    "post": 30,
    "reply": 14,
    "favourite": 15,
    "boost": 8,
    "direct": 8,
    "media": 5,
    "group": 3,
    "edit": 6,
    "delete": 4,
    "follow": 4,
    "unfollow": 3,
}


def busy_hour(x: float) -> float:
    """Share of the peak rate at `x` (0..1) into the hour: a morning ramp, a peak in the
    middle, a calmer end."""
    return 0.3 + 0.7 * math.sin(math.pi * min(max(x, 0.0), 1.0)) ** 2


def tiny_png(seed: int) -> bytes:
    image = Image.new("RGB", (24, 16), ((seed * 37) % 256, (seed * 91) % 256, 120))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


class Day:
    """Drives the workload and keeps the ledger."""

    def __init__(
        self,
        company: Company,
        *,
        duration: float,
        peak: float,
        outage: tuple[float, float] | None,
        victim: str | None,
        seed: int = 11,
        min_writes: int = 0,
    ) -> None:
        self.company = company
        self.duration = duration
        self.min_writes = min_writes
        self.peak = peak
        self.outage = outage  # (start, length) in seconds into the day
        self.victim = victim
        self.rng = random.Random(seed)
        self.ledger = Ledger(follows=set(company.follows))
        self.down: set[str] = set()
        self.inflight: Counter[str] = Counter()
        self.clients: dict[str, httpx.AsyncClient] = {}
        self.started = 0.0
        self.outage_at: tuple[float, float] | None = None  # perf_counter (killed, live again)
        self.counter = 0
        self.tag = secrets.token_hex(3)
        self._changing: set[tuple[int, int]] = set()

    # -- requests --

    async def call(
        self, person: Person, method: str, path: str, kind: str, **kwargs: Any
    ) -> httpx.Response:
        if person.node in self.down:  # its staff went quiet before the kill
            self.ledger.skipped[kind] += 1
            raise WriteFailed(kind)
        node = self.company.node(person)
        client = self.clients[person.node]
        self.inflight[person.node] += 1
        try:
            answer = await client.request(
                method,
                node.url + path,
                headers={"Authorization": f"Bearer {person.token}"},
                **kwargs,
            )
        except httpx.PoolTimeout:
            # It never left the client: certainly not written (but the harness was too slow).
            self.ledger.skipped[f"{kind} (no free connection)"] += 1
            raise WriteFailed(kind) from None
        except httpx.TransportError as exc:
            self.ledger.unanswered.append(f"{kind} on {person.node}: {type(exc).__name__} {exc}")
            raise Uncertain(kind) from exc
        finally:
            self.inflight[person.node] -= 1
        self.ledger.answers[f"{kind} {answer.status_code}"] += 1
        if answer.status_code >= 500:
            self.ledger.server_errors.append(
                f"{method} {path} on {person.node}: {answer.status_code} {answer.text[:300]}"
            )
        if answer.status_code >= 300:
            raise WriteFailed(f"{kind}: {answer.status_code} {answer.text[:200]}")
        return answer

    async def local_id(self, person: Person, written: Written) -> str | None:
        """The id of `written` on `person`'s node, if it is stored there (no fetching)."""
        if self.company.people[written.author].node == person.node:
            return written.local_id
        found = await self.call(
            person,
            "GET",
            "/api/v2/search",
            "lookup",
            params={"q": written.uri, "type": "statuses", "resolve": "false"},
        )
        for status in found.json()["statuses"]:
            if status["uri"] == written.uri:
                return str(status["id"])
        return None

    async def account_id(self, person: Person, other: Person) -> str | None:
        known = self.company.account_ids.get((person.node, other.index))
        if known:
            return known
        handle = self.company.handle(other, person.node).lstrip("@")
        found = await self.call(
            person,
            "GET",
            "/api/v2/search",
            "lookup",
            params={"q": "@" + handle, "type": "accounts", "resolve": "true"},
        )
        for account in found.json()["accounts"]:
            if account["acct"].lower() == handle.lower():
                self.company.account_ids[(person.node, other.index)] = str(account["id"])
                return str(account["id"])
        return None

    # -- choosing --

    def someone(self, test: Callable[[Person], bool] = lambda p: True) -> Person | None:
        people = self.company.people
        for _ in range(50):
            p = people[self.rng.randrange(len(people))]
            if p.node not in self.down and test(p):
                return p
        return None

    def follows_still(self, person: int, other: int) -> bool:
        """A follow from the start of the day that nobody changed today (planning runs for
        every candidate of every write: no set arithmetic here)."""
        pair = (person, other)
        return pair in self.ledger.follows and pair not in self.ledger.churned

    def marker(self, kind: str) -> str:
        self.counter += 1
        return f"cd{self.tag}x{self.counter}{kind}"

    def text(self, author: Person, marker: str, mentions: list[Person]) -> str:
        words = [self.company.handle(m, author.node) for m in mentions]
        tags = [f"#{t}" for t in self.rng.sample(HASHTAGS, self.rng.randrange(0, 3))]
        return " ".join([*words, f"Status {marker}:", "notes from the floor", *tags])

    # -- actions --

    async def post(self, kind: str = "post") -> None:
        author = self.someone()
        if author is None:
            return
        people = self.company.people
        mentions: list[Person] = []
        visibility = self.rng.choice(["public"] * 7 + ["unlisted", "private", "private"])
        media_ids: list[str] = []
        group = self.company.group
        if kind == "direct":
            other = self.someone(lambda p: p.index != author.index)
            if other is None:
                return
            mentions, visibility = [other], "direct"
        elif kind == "group":
            if group is None or not group.members:
                self.ledger.skipped[kind] += 1
                return
            member = self.someone(lambda p: p.index in group.members)
            if member is None:
                return
            author = member
        else:
            for _ in range(self.rng.choice([0, 0, 1, 1, 2])):
                mentions.append(people[self.rng.randrange(len(people))])
        if kind == "media":
            upload = await self.call(
                author,
                "POST",
                "/api/v2/media",
                "media-upload",
                files={"file": ("photo.png", tiny_png(self.counter), "image/png")},
            )
            media_ids = [str(upload.json()["id"])]
        marker = self.marker(kind)
        text = self.text(author, marker, mentions)
        if kind == "group" and group is not None:
            text = group.handle(self.company.net, author.node) + " " + text
        body: dict[str, Any] = {"status": text, "visibility": visibility}
        if media_ids:
            body["media_ids"] = media_ids
        sent = time.perf_counter()
        answer = await self.call(author, "POST", "/api/v1/statuses", kind, json=body)
        status = answer.json()
        self.record(
            Written(
                uri=status["uri"],
                local_id=str(status["id"]),
                author=author.index,
                kind=kind,
                visibility=status["visibility"],
                sent_at=sent,
                marker=marker,
                mentions=self.mentioned(status, author),
                group=kind == "group",
                media=len(media_ids),
            )
        )

    async def reply(self) -> None:
        replier = self.someone()
        if replier is None:
            return
        parent = self.ledger.recent(
            self.rng,
            lambda w: (
                w.kind in ("post", "reply", "media")
                and not w.frozen
                and w.visibility in ("public", "unlisted", "private")
                and (
                    (w.author, w.author) == (replier.index, replier.index)
                    or self.follows_still(replier.index, w.author)
                    or (
                        w.visibility != "private"
                        and self.company.people[w.author].node == replier.node
                    )
                )
                and self.company.people[w.author].node not in self.down
            ),
        )
        if parent is None:
            self.ledger.skipped["reply"] += 1
            return
        parent.busy += 1
        try:
            parent_id = await self.local_id(replier, parent)
            if parent_id is None:
                self.ledger.skipped["reply"] += 1
                return
            author = self.company.people[parent.author]
            mentions = [author] if author.index != replier.index else []
            marker = self.marker("reply")
            visibility = "private" if parent.visibility == "private" else "public"
            body = {
                "status": self.text(replier, marker, mentions),
                "visibility": visibility,
                "in_reply_to_id": parent_id,
            }
            sent = time.perf_counter()
            status = (
                await self.call(replier, "POST", "/api/v1/statuses", "reply", json=body)
            ).json()
        finally:
            parent.busy -= 1
        self.record(
            Written(
                uri=status["uri"],
                local_id=str(status["id"]),
                author=replier.index,
                kind="reply",
                visibility=status["visibility"],
                sent_at=sent,
                marker=marker,
                mentions=self.mentioned(status, replier),
            )
        )

    async def interact(self, kind: str) -> None:
        """A favourite or a boost, of a status the person can see (their node has it)."""
        actor = self.someone()
        if actor is None:
            return
        done = "favourited_by" if kind == "favourite" else "boosted_by"
        visible = ("public", "unlisted") if kind == "boost" else ("public", "unlisted", "private")
        target = self.ledger.recent(
            self.rng,
            lambda w: (
                w.kind in ("post", "reply", "media")
                and not w.frozen
                and w.visibility in visible
                and actor.index not in getattr(w, done)
                and w.author != actor.index
                and self.company.people[w.author].node not in self.down
                and (
                    (self.company.people[w.author].node == actor.node and w.visibility != "private")
                    or self.follows_still(actor.index, w.author)
                )
            ),
        )
        if target is None:
            self.ledger.skipped[kind] += 1
            return
        getattr(target, done).add(actor.index)  # before any await: no second one meanwhile
        target.busy += 1
        try:
            target_id = await self.local_id(actor, target)
            if target_id is None:
                getattr(target, done).discard(actor.index)
                self.ledger.skipped[kind] += 1
                return
            sent = time.perf_counter()
            path = f"/api/v1/statuses/{target_id}/" + (
                "favourite" if kind == "favourite" else "reblog"
            )
            try:
                answer = await self.call(actor, "POST", path, kind)
            except Uncertain:
                self.ledger.uncertain.add(target.uri)
                raise
            except WriteFailed:
                getattr(target, done).discard(actor.index)
                raise
        finally:
            target.busy -= 1
        self.ledger.writes[kind] += 1
        self.ledger.write_times.append((sent, kind))
        if kind == "boost":
            boost = answer.json()
            self.ledger.statuses[boost["uri"]] = Written(
                uri=boost["uri"],
                local_id=str(boost["id"]),
                author=actor.index,
                kind="boost",
                visibility=boost["visibility"],
                sent_at=sent,
                marker="",
                reblog_of=target.uri,
                frozen=True,
            )

    async def change(self, kind: str) -> None:
        """Edit or delete one of one's own statuses that nobody has touched."""
        target = self.ledger.recent(
            self.rng,
            lambda w: (
                w.kind in ("post", "reply", "direct")
                and not w.frozen
                and not w.busy
                and not w.favourited_by
                and not w.boosted_by
                and self.company.people[w.author].node not in self.down
            ),
        )
        if target is None:
            self.ledger.skipped[kind] += 1
            return
        target.frozen = True  # before any await: nobody replies, likes or boosts it now
        author = self.company.people[target.author]
        sent = time.perf_counter()
        self.ledger.uncertain.add(target.uri)  # until the node has answered
        if kind == "delete":
            await self.call(author, "DELETE", f"/api/v1/statuses/{target.local_id}", kind)
            target.deleted = True
        else:
            mentions = [self.company.people[i] for i in sorted(target.mentions)]
            target.edits += 1
            body = {
                "status": self.text(author, f"{target.marker}e{target.edits}", mentions),
            }
            await self.call(author, "PUT", f"/api/v1/statuses/{target.local_id}", kind, json=body)
        self.ledger.uncertain.discard(target.uri)
        self.ledger.writes[kind] += 1
        self.ledger.write_times.append((sent, kind))

    async def follow(self, kind: str) -> None:
        ledger = self.ledger
        if kind == "unfollow":
            candidates = [
                pair
                for pair in self.rng.sample(sorted(ledger.follows), min(40, len(ledger.follows)))
                if not {self.company.people[i].node for i in pair} & self.down
            ]
            if not candidates:
                ledger.skipped[kind] += 1
                return
            pair = candidates[0]
        else:
            a = self.someone()
            b = self.someone(lambda p: a is not None and p.index != a.index)
            if a is None or b is None or (a.index, b.index) in ledger.follows:
                ledger.skipped[kind] += 1
                return
            pair = (a.index, b.index)
        if pair in self._changing:
            ledger.skipped[kind] += 1
            return
        self._changing.add(pair)
        ledger.churned.add(pair)
        try:
            person, other = (self.company.people[i] for i in pair)
            target_id = await self.account_id(person, other)
            if target_id is None:
                ledger.skipped[kind] += 1
                return
            sent = time.perf_counter()
            try:
                await self.call(person, "POST", f"/api/v1/accounts/{target_id}/{kind}", kind)
            except Uncertain:
                ledger.uncertain_pairs.add(pair)
                raise
            if kind == "follow":
                ledger.follows.add(pair)
            else:
                ledger.follows.discard(pair)
            ledger.writes[kind] += 1
            ledger.write_times.append((sent, kind))
        finally:
            self._changing.discard(pair)

    def mentioned(self, status: dict[str, Any], author: Person) -> set[int]:
        """Whom the node says the status mentions: a mention of someone on a node that is
        down and unknown here stays plain text, as on Mastodon, and goes to nobody."""
        names = {m["username"].lower() for m in status.get("mentions", [])}
        return {
            p.index
            for p in self.company.people
            if p.name.lower() in names and p.index != author.index
        }

    def record(self, written: Written) -> None:
        self.ledger.statuses[written.uri] = written
        self.ledger.writes[written.kind] += 1
        self.ledger.write_times.append((written.sent_at, written.kind))

    async def act(self, kind: str) -> None:
        try:
            if kind in ("post", "direct", "media", "group"):
                await self.post(kind)
            elif kind == "reply":
                await self.reply()
            elif kind in ("favourite", "boost"):
                await self.interact(kind)
            elif kind in ("edit", "delete"):
                await self.change(kind)
            else:
                await self.follow(kind)
        except WriteFailed:
            pass

    # -- the day --

    async def run(
        self,
        *,
        kill: Callable[[], None] | None = None,
        restart: Callable[[], None] | None = None,
        tick: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        """Write at busy_hour(t) * peak per second for `duration` seconds; kill and restart
        the victim node at `outage` (in a thread: starting a node blocks)."""
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=32)
        self.clients = {
            name: httpx.AsyncClient(timeout=120, limits=limits) for name in self.company.net.nodes
        }
        kinds = list(WEIGHTS)
        weights = [WEIGHTS[k] for k in kinds]
        tasks: set[asyncio.Task[None]] = set()
        outage_task: asyncio.Task[None] | None = None
        self.started = time.perf_counter()
        due = self.started
        try:
            while self.going(now := time.perf_counter()):
                elapsed = now - self.started
                if (
                    self.outage is not None
                    and outage_task is None
                    and elapsed >= self.outage[0]
                    and kill is not None
                    and restart is not None
                ):
                    outage_task = asyncio.create_task(self._outage(kill, restart))
                if tick is not None:
                    await tick(elapsed)
                while due <= now:
                    rate = self.peak * busy_hour(elapsed / self.duration)
                    due += self.rng.expovariate(rate)
                    task = asyncio.create_task(self.act(self.rng.choices(kinds, weights)[0]))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                await asyncio.sleep(min(0.05, max(0.0, due - time.perf_counter())))
            if tasks:
                await asyncio.gather(*tasks)
            if outage_task is not None:
                await outage_task
        finally:
            for client in self.clients.values():
                await client.aclose()

    def going(self, now: float) -> bool:
        """Until `duration` has passed and at least `min_writes` were answered: a machine too
        busy to write much in that time gets more time, not a thinner day (up to 20 times)."""
        elapsed = now - self.started
        if elapsed >= 20 * self.duration:
            return False
        return elapsed < self.duration or sum(self.ledger.writes.values()) < self.min_writes

    async def _outage(self, kill: Callable[[], None], restart: Callable[[], None]) -> None:
        assert self.victim is not None
        assert self.outage is not None
        # Its staff stop writing, and what they sent is answered first: the answers say what
        # was written. What other nodes deliver to it meanwhile is cut off mid-flight.
        self.down.add(self.victim)
        while self.inflight[self.victim]:  # noqa: ASYNC110  (a counter, not an event)
            await asyncio.sleep(0.01)
        killed = time.perf_counter()
        kill()
        await asyncio.sleep(self.outage[1])
        await asyncio.to_thread(restart)
        self.outage_at = (killed, time.perf_counter())
        self.down.discard(self.victim)


def group_for(company: Company, node: str, members: int, seed: int = 5) -> None:
    """A members-only group on `node`; `members` staff from all nodes join it through real
    (federated) follows, and the day waits until each is accepted."""
    rng = random.Random(seed)
    net = company.net
    owner = company.on(node)[0]
    host = net[node]

    def api(person: Person, method: str, path: str, **kwargs: Any) -> Any:
        answer = company.node(person).api(_user(person), method, path, **kwargs)
        assert answer.status_code == 200, f"{method} {path}: {answer.status_code} {answer.text}"
        return answer.json()

    name = f"crew{secrets.token_hex(3)}"
    api(owner, "POST", "/api/v1/flurfunk/groups", json={"name": name, "visibility": "members"})
    group = Group(node, name, {owner.index})
    joiners = rng.sample([p for p in company.people if p.index != owner.index], members)
    joined: list[tuple[Person, str]] = []
    for person in joiners:
        handle = f"{name}@{host.domain}" if person.node != node else name
        found = api(
            person,
            "GET",
            "/api/v2/search",
            params={
                "q": "@" + (handle if "@" in handle else f"{name}@{host.domain}"),
                "type": "accounts",
                "resolve": "true",
            },
        )
        account = next(a for a in found["accounts"] if a["username"] == name)
        api(person, "POST", f"/api/v1/accounts/{account['id']}/follow")
        joined.append((person, str(account["id"])))
    for person, account_id in joined:
        wait_for(
            lambda p=person, a=account_id: api(  # type: ignore[misc]
                p, "GET", "/api/v1/accounts/relationships", params={"id": a}
            )[0]["following"],
            f"{person.name} joining {name}",
            120,
        )
        group.members.add(person.index)
    company.group = group


def _user(person: Person) -> Any:
    from tests.kit import User

    return User(name=person.name, password="company-day", email="", token=person.token)


# --- accounting ----------------------------------------------------------------------------


@dataclass
class Accounts:
    """What the nodes show, against what was written."""

    checked_homes: int = 0
    expected_entries: int = 0  # (status, home) pairs that must be there
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)  # misaddressed, or deleted yet shown
    stale: list[str] = field(default_factory=list)  # an edit or media missing
    counts: list[str] = field(default_factory=list)  # favourites or boosts miscounted
    relationships: list[str] = field(default_factory=list)
    rounds: int = 0
    seconds: float = 0.0

    @property
    def problems(self) -> list[str]:
        return [
            *self.lost,
            *self.duplicated,
            *self.unexpected,
            *self.stale,
            *self.counts,
            *self.relationships,
        ]


def expected_home(company: Company, ledger: Ledger, person: Person) -> tuple[set[str], set[str]]:
    """(uris that must be in `person`'s home, uris that may be there)."""
    must: set[str] = set()
    may: set[str] = set()
    stable = ledger.follows - ledger.churned
    group = company.group
    for w in ledger.statuses.values():
        if w.kind == "boost" or w.deleted or w.uri in ledger.uncertain:
            continue
        s, a = person.index, w.author
        if a == s or s in w.mentions:
            must.add(w.uri)
        elif w.group:
            if group is not None and s in group.members:
                must.add(w.uri)
        elif w.visibility != "direct" and (s, a) in stable and (s, a) in company.follows:
            must.add(w.uri)
        elif w.visibility != "direct" and (s, a) in ledger.churned:
            may.add(w.uri)
    return must, may


async def _get(client: httpx.AsyncClient, url: str, **kwargs: Any) -> httpx.Response:
    """A read, tried again when the connection drops (a busy node closing a kept-alive
    connection as it is reused): reading changes nothing, so trying again is safe."""
    for attempt in range(5):
        try:
            return await client.get(url, **kwargs)
        except httpx.TransportError:
            if attempt == 4:
                raise
            await asyncio.sleep(1 + attempt)
    raise AssertionError("unreachable")


async def _home(
    client: httpx.AsyncClient, company: Company, person: Person
) -> list[dict[str, Any]]:
    node = company.node(person)
    entries: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 40}
    while True:
        page = await _get(
            client,
            node.url + "/api/v1/timelines/home",
            params=params,
            headers={"Authorization": f"Bearer {person.token}"},
        )
        page.raise_for_status()
        statuses = page.json()
        if not statuses:
            return entries
        entries += statuses
        params["max_id"] = statuses[-1]["id"]


def _check_home(
    company: Company, ledger: Ledger, person: Person, entries: list[dict[str, Any]], out: Accounts
) -> None:
    must, may = expected_home(company, ledger, person)
    out.expected_entries += len(must)
    where = f"{person.name} on {person.node}"
    shown = Counter(e["uri"] for e in entries)
    for uri, times in shown.items():
        if times > 1:
            out.duplicated.append(f"{uri} {times} times in {where}'s home")
    for e in entries:
        written = ledger.statuses.get(e["uri"])
        original = ledger.statuses.get((e.get("reblog") or {}).get("uri", ""))
        if e.get("reblog"):
            if original is not None and original.deleted:
                out.unexpected.append(f"a boost of deleted {original.uri} in {where}'s home")
            continue
        if written is None or written.uri in ledger.uncertain:
            continue  # not known to be written (a group's own activity, an unanswered post)
        if written.deleted:
            out.unexpected.append(f"deleted {e['uri']} in {where}'s home")
        elif e["uri"] not in must and e["uri"] not in may:
            out.unexpected.append(
                f"{e['uri']} ({written.kind}, {written.visibility}) in {where}'s home"
            )
        if written.edits and f"{written.marker}e{written.edits}" not in e["content"]:
            out.stale.append(f"{e['uri']} without edit {written.edits} in {where}'s home")
        if written.media != len(e["media_attachments"]):
            out.stale.append(
                f"{e['uri']} with {len(e['media_attachments'])} of {written.media} media in "
                f"{where}'s home"
            )
    for uri in sorted(must - set(shown)):
        w = ledger.statuses[uri]
        out.lost.append(
            f"{uri} ({w.kind}, {w.visibility}, by {company.people[w.author].node}) missing from "
            f"{where}'s home"
        )


async def _check_counts(
    client: httpx.AsyncClient, company: Company, w: Written, out: Accounts
) -> None:
    author = company.people[w.author]
    answer = await _get(
        client,
        company.node(author).url + f"/api/v1/statuses/{w.local_id}",
        headers={"Authorization": f"Bearer {author.token}"},
    )
    answer.raise_for_status()
    status = answer.json()
    if status["favourites_count"] != len(w.favourited_by):
        out.counts.append(
            f"{w.uri}: {status['favourites_count']} favourites on {author.node}, "
            f"{len(w.favourited_by)} given"
        )
    if status["reblogs_count"] != len(w.boosted_by):
        out.counts.append(
            f"{w.uri}: {status['reblogs_count']} boosts on {author.node}, {len(w.boosted_by)} made"
        )


async def _relationship(
    client: httpx.AsyncClient, company: Company, person: Person, other: Person
) -> dict[str, Any] | None:
    node = company.node(person)
    headers = {"Authorization": f"Bearer {person.token}"}
    account_id = company.account_ids.get((person.node, other.index))
    if account_id is None:
        handle = company.handle(other, person.node).lstrip("@")
        found = await _get(
            client,
            node.url + "/api/v2/search",
            params={"q": "@" + handle, "type": "accounts", "resolve": "false"},
            headers=headers,
        )
        found.raise_for_status()
        match = [a for a in found.json()["accounts"] if a["acct"].lower() == handle.lower()]
        if not match:
            return None
        account_id = str(match[0]["id"])
    answer = await _get(
        client,
        node.url + "/api/v1/accounts/relationships",
        params={"id": account_id},
        headers=headers,
    )
    answer.raise_for_status()
    return dict(answer.json()[0])


async def _check_pair(
    client: httpx.AsyncClient,
    company: Company,
    ledger: Ledger,
    pair: tuple[int, int],
    out: Accounts,
) -> None:
    a, b = (company.people[i] for i in pair)
    wanted = pair in ledger.follows
    mine = await _relationship(client, company, a, b)
    theirs = await _relationship(client, company, b, a)
    following = bool(mine and mine["following"])
    followed_by = bool(theirs and theirs["followed_by"])
    if following != wanted or followed_by != wanted:
        out.relationships.append(
            f"{a.name}@{a.node} -> {b.name}@{b.node}: want following={wanted}, "
            f"{a.node} says {following}, {b.node} says followed_by={followed_by}"
        )


async def _one_round(
    company: Company,
    ledger: Ledger,
    people: list[Person],
    statuses: list[Written],
    pairs: list[tuple[int, int]],
    parallel: int,
) -> Accounts:
    out = Accounts()
    gate = asyncio.Semaphore(parallel)
    async with httpx.AsyncClient(timeout=60) as client:

        async def home(person: Person) -> None:
            async with gate:
                entries = await _home(client, company, person)
            _check_home(company, ledger, person, entries, out)
            out.checked_homes += 1

        async def counts(w: Written) -> None:
            async with gate:
                await _check_counts(client, company, w, out)

        async def pair(p: tuple[int, int]) -> None:
            async with gate:
                await _check_pair(client, company, ledger, p, out)

        await asyncio.gather(
            *(home(p) for p in people), *(counts(w) for w in statuses), *(pair(p) for p in pairs)
        )
    return out


def account(company: Company, ledger: Ledger, *, timeout: float, parallel: int = 8) -> Accounts:
    """Check every home, count and changed follow; re-check what is not right yet (deliveries
    may still be under way, a restarted node catching up) until it is, or `timeout` passes.
    Returns the last round: what is still wrong then stays wrong."""
    started = time.monotonic()
    people = list(company.people)
    statuses = [
        w
        for w in ledger.statuses.values()
        if w.kind != "boost" and not w.deleted and w.uri not in ledger.uncertain
    ]
    pairs = sorted(ledger.churned - ledger.uncertain_pairs)
    total = Accounts()
    rounds = 0
    while True:
        rounds += 1
        out = asyncio.run(_one_round(company, ledger, people, statuses, pairs, parallel))
        if rounds == 1:
            total.checked_homes = out.checked_homes
            total.expected_entries = out.expected_entries
        if not out.problems or time.monotonic() - started > timeout:
            break
        bad = " ".join(out.problems)
        people = [p for p in people if f"{p.name} on {p.node}" in bad]
        statuses = [w for w in statuses if w.uri + ":" in bad]
        pairs = [p for p in pairs if f"{company.people[p[0]].name}@" in bad]
        time.sleep(3)
    for name in ("lost", "duplicated", "unexpected", "stale", "counts", "relationships"):
        setattr(total, name, getattr(out, name))
    total.rounds = rounds
    total.seconds = time.monotonic() - started
    return total
