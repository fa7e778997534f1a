"""Announcements across three real nodes (hq, sales, dev, all allowing each other): staff see
them through Mastodon's own API, reads come back to the author in batches, audiences hold,
and bad input changes nothing.

The nodes are shared by the module; every test makes its own people and announcements.
Reads travel in a periodic batch (every few seconds): the tests poll for them, bounded.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from mastodon import Mastodon

from tests.federation_kit import (
    AS_CONTEXT,
    FakeActor,
    FedNode,
    Network,
    Plan,
    network,
    peer_in_thread,
    resolve,
    wait_for,
)
from tests.kit import User
from tests.peer import FakePeer

MALLORY = "mallory.flurfunk.test"


@pytest.fixture(scope="module")
def mallory_peer() -> Iterator[FakePeer]:
    """An allowed node that is in no announcement's audience: it forges receipts."""
    with peer_in_thread() as peer:
        yield peer


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory, mallory_peer: FakePeer) -> Iterator[Network]:
    plans = {
        "hq": Plan(allow=("sales", "dev", MALLORY), stand_ins={MALLORY: mallory_peer.port}),
        "sales": Plan(allow=("hq", "dev")),
        "dev": Plan(allow=("hq", "sales")),
    }
    with network(tmp_path_factory.mktemp("announce"), "sqlite", plans) as running:
        yield running


def client(node: FedNode, user: User) -> Mastodon:
    return Mastodon(access_token=user.token, api_base_url=node.url, version_check_mode="none")


def announcer(node: FedNode) -> User:
    """A new admin on `node` (admins may announce)."""
    user = node.create_user("boss")
    node.cli("user", "role", user.name, "admin")
    return user


def knows(hq: FedNode, boss: User, *others: tuple[FedNode, User]) -> None:
    """hq has met someone on each of the other nodes (so `company` includes them)."""
    for node, person in others:
        assert resolve(hq, boss, node.handle(person)) is not None


def announce(node: FedNode, user: User, **fields: Any) -> dict[str, Any]:
    answer = node.api(user, "POST", "/api/v1/flurfunk/announcements", json=fields)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def shown(node: FedNode, user: User, needle: str) -> dict[str, Any] | None:
    for item in client(node, user).announcements():
        if needle in item["content"]:
            return dict(item)
    return None


def arrives(node: FedNode, user: User, needle: str) -> dict[str, Any]:
    return wait_for(lambda: shown(node, user, needle), f"{needle!r} shown on {node.host}")


def receipts(node: FedNode, user: User, announcement_id: str) -> dict[str, Any]:
    path = f"/api/v1/flurfunk/announcements/{announcement_id}/receipts"
    answer = node.api(user, "GET", path)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def row(report: dict[str, Any], node: FedNode) -> dict[str, Any]:
    return next(n for n in report["nodes"] if n["host"] == node.domain)


def unread(report: dict[str, Any]) -> set[str]:
    return {entry["acct"] for entry in report["not_acknowledged"]}


def test_company_announcement_reaches_staff_everywhere_and_reads_come_back(net: Network) -> None:
    hq, sales, dev = net["hq"], net["sales"], net["dev"]
    boss, sam, dee = announcer(hq), sales.create_user("sam"), dev.create_user("dee")
    hanna = hq.create_user("hanna")
    knows(hq, boss, (sales, sam), (dev, dee))

    made = announce(
        hq,
        boss,
        text="**Quarterly** numbers out",
        audience="company",
        requires_acknowledgement=True,
    )
    assert made["audience"] == "company"
    assert {hq.domain, sales.domain, dev.domain} <= set(made["nodes"])

    seen = {}
    for node, person in ((hq, hanna), (sales, sam), (dev, dee)):
        seen[node.name] = arrives(node, person, "<strong>Quarterly</strong> numbers out")
    entity = seen["sales"]
    assert set(entity) >= {
        "id",
        "content",
        "starts_at",
        "ends_at",
        "all_day",
        "published_at",
        "updated_at",
        "read",
        "mentions",
        "statuses",
        "tags",
        "emojis",
        "reactions",
    }
    assert entity["read"] is False

    client(sales, sam).announcement_dismiss(entity["id"])
    assert shown(sales, sam, "Quarterly") is None  # dismissed: no longer listed
    kept = sales.api(sam, "GET", "/api/v1/announcements", params={"with_dismissed": "true"}).json()
    assert [a["read"] for a in kept if "Quarterly" in a["content"]] == [True]

    def sales_read() -> dict[str, Any] | None:
        report = receipts(hq, boss, made["id"])
        return report if row(report, sales)["acknowledged"] >= 1 else None

    report = wait_for(sales_read, "sam's read reported back to hq")
    assert row(report, sales)["reached"] >= 1
    assert row(report, hq)["reached"] >= 1  # the announcing node has its own row
    missing = unread(report)
    assert sales.handle(sam) not in missing
    assert hq.handle(hanna) in missing
    wait_for(lambda: dev.handle(dee) in unread(receipts(hq, boss, made["id"])), "dev reports dee")

    # Reactions, as Mastodon apps send them.
    client(dev, dee).announcement_reaction_create(seen["dev"]["id"], "👍")
    listed = shown(dev, dee, "Quarterly")
    assert listed is not None
    assert listed["reactions"] == [{"name": "👍", "count": 1, "me": True}]


def test_an_announcement_to_sales_never_reaches_dev(net: Network) -> None:
    hq, sales, dev = net["hq"], net["sales"], net["dev"]
    boss, sam, dee = announcer(hq), sales.create_user("sam"), dev.create_user("dee")
    only_sales = announce(hq, boss, text="For sales only", audience=f"nodes:{sales.domain}")
    assert only_sales["nodes"] == [sales.domain]
    arrives(sales, sam, "For sales only")
    announce(hq, boss, text="For dev, later", audience=f"nodes:{dev.domain}")
    arrives(dev, dee, "For dev, later")  # sent after the first: it would be there by now
    assert shown(dev, dee, "For sales only") is None
    assert shown(hq, boss, "For sales only") is None  # nor on hq, which is not in it
    report = receipts(hq, boss, only_sales["id"])
    assert [n["host"] for n in report["nodes"]] == [sales.domain]
    assert "not_acknowledged" not in report  # no acknowledgement asked


def test_an_edit_asks_again(net: Network) -> None:
    hq, sales = net["hq"], net["sales"]
    boss, sam = announcer(hq), sales.create_user("sam")
    made = announce(
        hq,
        boss,
        text="Office closed Friday",
        audience=f"nodes:{sales.domain}",
        requires_acknowledgement=True,
    )
    first = arrives(sales, sam, "Office closed Friday")
    client(sales, sam).announcement_dismiss(first["id"])
    wait_for(
        lambda: sales.handle(sam) not in unread(receipts(hq, boss, made["id"])),
        "sam's read reported",
    )
    edited = hq.api(
        boss,
        "PATCH",
        f"/api/v1/flurfunk/announcements/{made['id']}",
        json={"text": "Office closed Friday *and Monday*"},
    )
    assert edited.status_code == 200, edited.text
    again = arrives(sales, sam, "and Monday")
    assert again["read"] is False
    assert again["updated_at"] > first["updated_at"]
    report = receipts(hq, boss, made["id"])
    assert sales.handle(sam) in unread(report) or row(report, sales)["acknowledged"] == 0
    client(sales, sam).announcement_dismiss(again["id"])
    wait_for(
        lambda: row(receipts(hq, boss, made["id"]), sales)["acknowledged"] >= 1,
        "the read of the new version reported",
    )

    withdrawn = hq.api(boss, "DELETE", f"/api/v1/flurfunk/announcements/{made['id']}")
    assert withdrawn.status_code == 200
    wait_for(
        lambda: shown(sales, sam, "and Monday") is None,
        "the withdrawal reaches sales",
    )


def test_group_moderators_announce_to_their_members_only(net: Network) -> None:
    hq, sales = net["hq"], net["sales"]
    owner, member_hq = hq.create_user("owner"), hq.create_user("member")
    sam, sid = sales.create_user("sam"), sales.create_user("sid")
    name = f"g{secrets.token_hex(4)}"
    hq.cli("group", "create", name, "--owner", owner.name)
    for node, person in ((hq, member_hq), (sales, sam)):
        group = resolve(node, person, name if node is hq else f"{name}@{hq.domain}")
        assert group is not None
        assert node.api(person, "POST", f"/api/v1/accounts/{group['id']}/follow").is_success
        wait_for(
            lambda node=node, person=person, group=group: node.api(
                person, "GET", "/api/v1/accounts/relationships", params={"id": group["id"]}
            ).json()[0]["following"],
            f"{person.name} joins {name}",
        )
    audience = f"group:{name}@{hq.domain}"
    refused = hq.api(
        member_hq,
        "POST",
        "/api/v1/flurfunk/announcements",
        json={"text": "x", "audience": audience},
    )
    assert refused.status_code == 403
    assert refused.json()["error"] == "This action requires the permission announce"

    made = announce(
        hq, owner, text="Team offsite", audience=audience, requires_acknowledgement=True
    )
    assert made["nodes"] == sorted([hq.domain, sales.domain])
    arrives(sales, sam, "Team offsite")
    arrives(hq, member_hq, "Team offsite")
    boss = announcer(hq)
    announce(hq, boss, text="Later, for all of sales", audience=f"nodes:{sales.domain}")
    arrives(sales, sid, "Later, for all of sales")
    assert shown(sales, sid, "Team offsite") is None  # not a member
    assert shown(hq, boss, "Team offsite") is None
    report = wait_for(
        lambda: (r := receipts(hq, owner, made["id"])) and row(r, sales)["reached"] >= 1 and r,
        "sales reports the group's reads",
    )
    assert unread(report) == {hq.handle(owner), hq.handle(member_hq), sales.handle(sam)}


def test_announcing_needs_the_permission(net: Network) -> None:
    hq = net["hq"]
    plain = hq.create_user("plain")
    answer = hq.api(plain, "POST", "/api/v1/flurfunk/announcements", json={"text": "Hi"})
    assert answer.status_code == 403
    assert answer.json()["error"] == "This action requires the permission announce"
    assert hq.api(plain, "GET", "/api/v1/flurfunk/announcements").status_code == 403


def test_hostile_input_changes_nothing(net: Network, mallory_peer: FakePeer) -> None:
    hq, sales = net["hq"], net["sales"]
    boss = announcer(hq)
    before = hq.api(boss, "GET", "/api/v1/flurfunk/announcements").json()
    now = datetime.now(UTC)
    bad: list[tuple[dict[str, Any], str]] = [
        ({"text": "x", "audience": "everyone"}, "unknown audience"),
        ({"text": "x", "audience": "nodes:"}, "names no node"),
        ({"text": "x", "audience": "nodes:bad host"}, "invalid node"),
        ({"text": "x", "audience": "nodes:evil.example"}, "not on the allowlist"),
        ({"text": "x", "audience": "group:nope"}, "group:NAME@HOST"),
        ({"text": "x", "audience": f"group:apollo@{sales.domain}"}, "from its own node"),
        ({"text": "x", "audience": f"group:nosuchgroup@{hq.domain}"}, "no group nosuchgroup"),
        ({"text": "", "audience": "node"}, "blank"),
        ({"text": "x", "audience": ["company"]}, "must be a string"),
        ({"text": "x", "starts_at": "soon"}, "ISO 8601"),
        (
            {
                "text": "x",
                "starts_at": (now + timedelta(days=2)).isoformat(),
                "ends_at": (now + timedelta(days=1)).isoformat(),
            },
            "ends_at must be after starts_at",
        ),
    ]
    for fields, reason in bad:
        answer = hq.api(boss, "POST", "/api/v1/flurfunk/announcements", json=fields)
        assert answer.status_code == 422, (fields, answer.text)
        assert reason in answer.json()["error"], (fields, answer.text)
    assert hq.api(boss, "GET", "/api/v1/flurfunk/announcements").json() == before
    unknown = "/api/v1/flurfunk/announcements/123/receipts"
    assert hq.api(boss, "GET", unknown).status_code == 404
    assert hq.api(boss, "GET", "/api/v1/flurfunk/announcements/x/receipts").status_code == 404
    assert hq.api(boss, "POST", "/api/v1/announcements/123/dismiss").status_code == 404

    # A receipt forged by a node that is not in the audience, and one for nothing.
    made = announce(
        hq,
        boss,
        text="Sales figures",
        audience=f"nodes:{sales.domain}",
        requires_acknowledgement=True,
    )
    mallory = FakeActor.generate(MALLORY)
    mallory.publish(mallory_peer)
    marker = {
        "version": "2026-01-01T00:00:00.000000Z",
        "reached": 999,
        "acknowledged": 999,
        "acknowledgedBy": [f"x@{MALLORY}"],
        "notAcknowledged": [],
    }
    context = [*AS_CONTEXT, {"flurfunk": "https://flurfunk.dev/ns#"}]
    for target in (made["uri"], hq.public_url + "/announcements/123"):
        forged = mallory.activity("Read", target, **{"flurfunk:announcement": marker})
        forged["@context"] = context
        answer = mallory.post(hq, forged)
        assert answer.status_code == 202, answer.text
    report = receipts(hq, boss, made["id"])
    assert [n["host"] for n in report["nodes"]] == [sales.domain]
    assert row(report, sales)["acknowledged"] == 0
    assert all(MALLORY not in a for a in unread(report))


def test_cli_announce_prints_the_id_and_staff_see_it(net: Network) -> None:
    hq = net["hq"]
    anna, boss = hq.create_user("anna"), announcer(hq)
    out = hq.cli("announce", "--audience", "node", "--require-ack", "Lunch is on us")
    announcement_id = out.stdout.strip().splitlines()[-1]
    assert announcement_id.isdigit()
    item = arrives(hq, anna, "Lunch is on us")
    assert item["id"] == announcement_id
    listed = hq.api(boss, "GET", f"/api/v1/flurfunk/announcements/{announcement_id}").json()
    assert listed["requires_acknowledgement"] is True
    bad = hq.cli("announce", "--audience", "everyone", "x", check=False)
    assert bad.returncode != 0
    assert "unknown audience" in bad.stderr
    report = receipts(hq, boss, announcement_id)
    assert row(report, hq)["reached"] >= 1
    assert hq.handle(anna) in unread(report)


class UserStream:
    """Server-sent events of one person's `user` stream, read in a thread (the apps' way;
    Mastodon.py would look for the streaming host under the node's company name)."""

    def __init__(self, node: FedNode, user: User) -> None:
        self.events: list[tuple[str, str]] = []
        self.opened = threading.Event()
        self.closing = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(node, user), daemon=True)
        self._thread.start()
        assert self.opened.wait(15), "the stream did not open"

    def _read(self, node: FedNode, user: User) -> None:
        headers = {"Authorization": f"Bearer {user.token}"}
        url = node.url + "/api/v1/streaming/user"
        with httpx.stream("GET", url, headers=headers, timeout=30) as answer:
            event = ""
            for line in answer.iter_lines():
                self.opened.set()
                if self.closing.is_set():
                    return
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event:
                    self.events.append((event, line[5:].strip()))
                    event = ""

    def named(self, name: str) -> list[Any]:
        return [orjson.loads(d) if d[:1] in "{[" else d for e, d in list(self.events) if e == name]

    def close(self) -> None:
        self.closing.set()
        self._thread.join(5)


def test_staff_streams_hear_announcements_live(net: Network) -> None:
    hq, sales = net["hq"], net["sales"]
    boss, sam = announcer(hq), sales.create_user("sam")
    heard = UserStream(sales, sam)
    try:
        made = announce(hq, boss, text="Live from hq", audience=f"nodes:{sales.domain}")
        entity = wait_for(lambda: heard.named("announcement"), "the announcement streamed")[0]
        assert "Live from hq" in entity["content"]
        assert entity["read"] is False
        client(sales, sam).announcement_reaction_create(entity["id"], "🎉")
        reaction = wait_for(lambda: heard.named("announcement.reaction"), "the reaction")[0]
        assert reaction == {"name": "🎉", "count": 1, "announcement_id": entity["id"]}
        hq.api(boss, "DELETE", f"/api/v1/flurfunk/announcements/{made['id']}")
        gone = wait_for(lambda: heard.named("announcement.delete"), "the withdrawal streamed")
        assert gone == [entity["id"]]
    finally:
        heard.close()
