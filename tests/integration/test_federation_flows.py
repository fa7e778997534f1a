"""Staff on different nodes follow each other, post, reply, like, boost, edit, delete, block —
between three real nodes: hq and sales allow each other, dev is allowed by nobody.

The nodes are shared by the module (users are unique per test). What federation delivers is
awaited, bounded; a "does not arrive" is only asserted after something sent later did arrive.
"""

from __future__ import annotations

import os
import queue
import random
import re
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.federation_kit import (
    FedNode,
    Network,
    Plan,
    arrives,
    company,
    deliveries_once,
    follow,
    follows,
    home,
    in_home,
    me,
    network,
    notified,
    peer_in_thread,
    pending,
    post,
    relationship,
    remote_account,
    resolve,
    seen,
    status,
    wait_for,
)
from tests.kit import FLURFUNK, User
from tests.peer import FakePeer


@pytest.fixture(scope="module")
def listener() -> Iterator[FakePeer]:
    """Where hq and sales would connect for dev.flurfunk.test: counts connections."""
    with peer_in_thread() as peer:
        yield peer


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory, listener: FakePeer) -> Iterator[Network]:
    with network(tmp_path_factory.mktemp("flows"), "sqlite", company(listener.port)) as running:
        yield running


@pytest.fixture(scope="module")
def pg_net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    plans = {"hq": Plan(allow=("sales",)), "sales": Plan(allow=("hq",))}
    with network(tmp_path_factory.mktemp("flows-pg"), "postgres", plans) as running:
        yield running


def acct(node: FedNode, user: User) -> str:
    """How `user` of `node` appears on other nodes."""
    return node.handle(user)


def _follow_post_unfollow(net: Network) -> None:
    hq, sales = net["hq"], net["sales"]
    ada, bo = hq.create_user("ada"), sales.create_user("bo")

    bo_on_hq = follows(hq, ada, sales, bo)
    assert bo_on_hq["acct"] == acct(sales, bo)
    assert bo_on_hq["url"].startswith(sales.public_url)
    wait_for(lambda: me(sales, bo)["followers_count"] == 1, "bo's follower count on sales")
    assert me(hq, ada)["following_count"] == 1

    for visibility in ("public", "unlisted", "private"):
        sent = post(sales, bo, f"Sales numbers, {visibility} edition", visibility=visibility)
        got = arrives(hq, ada, sent["uri"])
        assert f"{visibility} edition" in got["content"]
        assert got["visibility"] == visibility
        assert got["account"]["acct"] == acct(sales, bo)

    assert hq.api(ada, "POST", f"/api/v1/accounts/{bo_on_hq['id']}/unfollow").status_code == 200
    wait_for(lambda: me(sales, bo)["followers_count"] == 0, "the unfollow reaching sales")
    later = post(sales, bo, "Anyone still listening?")
    control = hq.create_user("control")
    follows(hq, control, sales, bo)
    post_after = post(sales, bo, "After the unfollow")
    arrives(hq, control, post_after["uri"])
    assert in_home(hq, ada, later["uri"]) is None
    assert in_home(hq, ada, post_after["uri"]) is None


def test_remote_accounts_resolve_through_search_and_lookup(net: Network) -> None:
    hq, sales = net["hq"], net["sales"]
    ada, bo, cy = hq.create_user("ada"), sales.create_user("bo"), sales.create_user("cy")
    found = resolve(hq, ada, acct(sales, bo))
    assert found is not None
    assert found["username"] == bo.name
    assert found["url"] == f"{sales.public_url}/@{bo.name}"
    again = hq.api(ada, "GET", "/api/v1/accounts/lookup", params={"acct": acct(sales, bo)})
    assert again.status_code == 200, again.text
    assert again.json()["id"] == found["id"]

    first_time = hq.api(ada, "GET", "/api/v1/accounts/lookup", params={"acct": acct(sales, cy)})
    assert first_time.status_code == 200, first_time.text  # looked up by WebFinger
    assert first_time.json()["acct"] == acct(sales, cy)

    assert resolve(hq, ada, f"nobody-{bo.name}@{sales.domain}") is None
    missing = hq.api(
        ada, "GET", "/api/v1/accounts/lookup", params={"acct": f"nobody-{bo.name}@{sales.domain}"}
    )
    assert missing.status_code == 404


def test_follow_posts_and_unfollow_between_nodes(net: Network) -> None:
    _follow_post_unfollow(net)


@pytest.mark.postgres
def test_follow_posts_and_unfollow_between_nodes_on_postgres(pg_net: Network) -> None:
    _follow_post_unfollow(pg_net)


def test_locked_account_authorizes_and_rejects(net: Network) -> None:
    hq, sales = net["hq"], net["sales"]
    lo = sales.create_user("lo", locked=True)
    ada, rex, eve = hq.create_user("ada"), hq.create_user("rex"), hq.create_user("eve")

    lo_on_hq = follow(hq, ada, sales, lo)
    assert relationship(hq, ada, lo_on_hq["id"])["requested"] is True
    requests = wait_for(
        lambda: [a for a in _follow_requests(sales, lo) if a["acct"] == acct(hq, ada)],
        "ada's follow request listed for lo",
    )
    answer = sales.api(lo, "POST", f"/api/v1/follow_requests/{requests[0]['id']}/authorize")
    assert answer.status_code == 200, answer.text
    wait_for(lambda: relationship(hq, ada, lo_on_hq["id"])["following"], "the Accept reaching hq")

    private = post(sales, lo, "Only for my followers", visibility="private")
    assert arrives(hq, ada, private["uri"])["visibility"] == "private"
    assert seen(hq, eve, private["uri"]) is None

    follow(hq, rex, sales, lo)
    rex_request = wait_for(
        lambda: [a for a in _follow_requests(sales, lo) if a["acct"] == acct(hq, rex)],
        "rex's follow request listed for lo",
    )
    answer = sales.api(lo, "POST", f"/api/v1/follow_requests/{rex_request[0]['id']}/reject")
    assert answer.status_code == 200, answer.text
    wait_for(
        lambda: not relationship(hq, rex, lo_on_hq["id"])["requested"],
        "the Reject reaching hq",
    )
    assert relationship(hq, rex, lo_on_hq["id"])["following"] is False
    assert me(sales, lo)["followers_count"] == 1


def _follow_requests(node: FedNode, user: User) -> list[dict[str, Any]]:
    answer = node.api(user, "GET", "/api/v1/follow_requests")
    assert answer.status_code == 200, answer.text
    return list(answer.json())


def _context(node: FedNode, user: User, status_id: str) -> dict[str, list[str]]:
    answer = node.api(user, "GET", f"/api/v1/statuses/{status_id}/context")
    assert answer.status_code == 200, answer.text
    return {k: [s["uri"] for s in v] for k, v in answer.json().items()}


def test_replies_mention_and_thread_on_both_nodes(net: Network) -> None:
    hq, sales = net["hq"], net["sales"]
    ada, bo = hq.create_user("ada"), sales.create_user("bo")
    follows(sales, bo, hq, ada)

    original = post(hq, ada, "Quarterly numbers are in")
    on_sales = arrives(sales, bo, original["uri"])
    reply = post(sales, bo, f"@{acct(hq, ada)} great news!", in_reply_to_id=on_sales["id"])
    assert reply["in_reply_to_id"] == on_sales["id"]

    mention = wait_for(
        lambda: notified(hq, ada, "mention", acct(sales, bo), reply["uri"]),
        "ada's mention notification for bo's reply",
    )[0]
    reply_on_hq = mention["status"]
    assert reply_on_hq["in_reply_to_id"] == original["id"]
    assert _context(hq, ada, original["id"])["descendants"] == [reply["uri"]]

    answer = post(hq, ada, f"@{acct(sales, bo)} thanks!", in_reply_to_id=reply_on_hq["id"])
    wait_for(
        lambda: notified(sales, bo, "mention", acct(hq, ada), answer["uri"]),
        "bo's mention notification for ada's answer",
    )
    thread = _context(sales, bo, reply["id"])
    assert thread["ancestors"] == [original["uri"]]
    assert thread["descendants"] == [answer["uri"]]


def test_direct_message_reaches_only_its_recipient(net: Network) -> None:
    hq, sales = net["hq"], net["sales"]
    ada = hq.create_user("ada")
    bo, cy = sales.create_user("bo"), sales.create_user("cy")
    follows(sales, cy, hq, ada)  # cy follows the sender but is not addressed
    remote_account(hq, ada, sales, bo)

    secret = post(hq, ada, f"@{acct(sales, bo)} your review is on Monday", visibility="direct")
    wait_for(
        lambda: notified(sales, bo, "mention", acct(hq, ada), secret["uri"]),
        "bo's notification of the direct message",
    )
    got = seen(sales, bo, secret["uri"])
    assert got is not None
    assert got["visibility"] == "direct"

    barrier = post(hq, ada, "Lunch is served")
    arrives(sales, cy, barrier["uri"])
    assert seen(sales, cy, secret["uri"]) is None
    assert in_home(sales, cy, secret["uri"]) is None
    assert notified(sales, cy, "mention", acct(hq, ada)) == []


def test_favourites_and_boosts_count_on_the_origin(net: Network) -> None:
    hq, sales = net["hq"], net["sales"]
    ada, cy = hq.create_user("ada"), hq.create_user("cy")
    bo = sales.create_user("bo")
    follows(sales, bo, hq, ada)
    follows(hq, cy, sales, bo)  # cy sees what bo boosts

    original = post(hq, ada, "Who wants cake?")
    copy = arrives(sales, bo, original["uri"])

    def origin() -> dict[str, Any]:
        return dict(status(hq, ada, original["id"]).json())

    assert sales.api(bo, "POST", f"/api/v1/statuses/{copy['id']}/favourite").status_code == 200
    wait_for(lambda: origin()["favourites_count"] == 1, "the Like counted on hq")
    assert notified(hq, ada, "favourite", acct(sales, bo), original["uri"])

    assert sales.api(bo, "POST", f"/api/v1/statuses/{copy['id']}/reblog").status_code == 200
    wait_for(lambda: origin()["reblogs_count"] == 1, "the Announce counted on hq")
    assert notified(hq, ada, "reblog", acct(sales, bo), original["uri"])
    boosted = wait_for(
        lambda: [s for s in home(hq, cy) if (s.get("reblog") or {}).get("uri") == original["uri"]],
        "bo's boost in cy's home on hq",
    )
    assert boosted[0]["account"]["acct"] == acct(sales, bo)

    assert sales.api(bo, "POST", f"/api/v1/statuses/{copy['id']}/unfavourite").status_code == 200
    assert sales.api(bo, "POST", f"/api/v1/statuses/{copy['id']}/unreblog").status_code == 200
    wait_for(
        lambda: origin()["favourites_count"] == 0 and origin()["reblogs_count"] == 0,
        "the Undo of Like and Announce counted on hq",
    )


def test_edit_reaches_followers_with_its_history(net: Network) -> None:
    hq, sales = net["hq"], net["sales"]
    ada, bo = hq.create_user("ada"), sales.create_user("bo")
    follows(sales, bo, hq, ada)
    original = post(hq, ada, "The meeting is on Tuesday")
    copy = arrives(sales, bo, original["uri"])

    edited = hq.api(
        ada,
        "PUT",
        f"/api/v1/statuses/{original['id']}",
        json={"status": "The meeting is on Wednesday"},
    )
    assert edited.status_code == 200, edited.text
    updated = wait_for(
        lambda: (s := status(sales, bo, copy["id"]).json()) and "Wednesday" in s["content"] and s,
        "the edit on sales",
    )
    assert updated["edited_at"] is not None
    history = sales.api(bo, "GET", f"/api/v1/statuses/{copy['id']}/history")
    assert history.status_code == 200, history.text
    versions = [v["content"] for v in history.json()]
    assert len(versions) == 2
    assert "Tuesday" in versions[0]
    assert "Wednesday" in versions[-1]


def test_delete_removes_the_remote_copy(net: Network) -> None:
    hq, sales = net["hq"], net["sales"]
    ada, bo = hq.create_user("ada"), sales.create_user("bo")
    follows(sales, bo, hq, ada)
    doomed = post(hq, ada, "Posted in the wrong channel")
    copy = arrives(sales, bo, doomed["uri"])

    assert hq.api(ada, "DELETE", f"/api/v1/statuses/{doomed['id']}").status_code == 200
    wait_for(lambda: status(sales, bo, copy["id"]).status_code == 404, "the Delete on sales")
    assert in_home(sales, bo, doomed["uri"]) is None
    assert seen(sales, bo, doomed["uri"]) is None


def test_block_ends_the_follow_and_what_follows_it(net: Network) -> None:
    hq, sales = net["hq"], net["sales"]
    ada = hq.create_user("ada")
    bo, cy = sales.create_user("bo"), sales.create_user("cy")
    ada_on_sales = follows(sales, bo, hq, ada)
    follows(sales, cy, hq, ada)
    wait_for(lambda: me(hq, ada)["followers_count"] == 2, "two followers of ada on hq")

    bo_on_hq = remote_account(hq, ada, sales, bo)
    answer = hq.api(ada, "POST", f"/api/v1/accounts/{bo_on_hq['id']}/block")
    assert answer.status_code == 200, answer.text
    assert answer.json()["blocking"] is True
    assert me(hq, ada)["followers_count"] == 1
    wait_for(
        lambda: not relationship(sales, bo, ada_on_sales["id"])["following"],
        "the Block ending bo's follow on sales",
    )

    after = post(hq, ada, "Team news after the block")
    arrives(sales, cy, after["uri"])
    assert in_home(sales, bo, after["uri"]) is None


def test_the_disallowed_node_changes_nothing(net: Network, listener: FakePeer) -> None:
    hq, sales, dev = net["hq"], net["sales"], net["dev"]
    ada, bo, dz = hq.create_user("ada"), sales.create_user("bo"), dev.create_user("dz")

    # dev allows everyone, but hq refuses its signed fetches: it finds nobody there.
    assert resolve(dev, dz, acct(hq, ada)) is None
    lookup = dev.api(dz, "GET", "/api/v1/accounts/lookup", params={"acct": acct(hq, ada)})
    assert lookup.status_code == 404
    shout = post(dev, dz, f"@{acct(hq, ada)} @{acct(sales, bo)} hello from dev")
    assert shout["mentions"] == []

    # hq and sales never look dev up: the handle resolves to nothing, without a connection.
    assert resolve(hq, ada, acct(dev, dz)) is None
    lookup = hq.api(ada, "GET", "/api/v1/accounts/lookup", params={"acct": acct(dev, dz)})
    assert lookup.status_code == 404
    mention = post(sales, bo, f"@{acct(dev, dz)} are you there?")
    assert mention["mentions"] == []

    wait_for(lambda: pending(dev, hq.host) == 0, "dev's deliveries to hq settled")
    assert notified(hq, ada, "mention", acct(dev, dz)) == []
    assert notified(sales, bo, "mention", acct(dev, dz)) == []
    assert me(hq, ada)["followers_count"] == 0
    assert listener.connections == 0


def test_allowlist_removal_stops_federation_until_added_again(tmp_path: Path) -> None:
    plans = {"hq": Plan(allow=("sales",)), "sales": Plan(allow=("hq",))}
    with network(tmp_path, "sqlite", plans) as net:
        hq, sales = net["hq"], net["sales"]
        ada, bo = hq.create_user("ada"), sales.create_user("bo")
        follows(sales, bo, hq, ada)
        follows(hq, ada, sales, bo)
        before = post(sales, bo, "Sales update before the change")
        arrives(hq, ada, before["uri"])
        first = post(hq, ada, "HQ update before the change")
        copy = arrives(sales, bo, first["uri"])

        hq.cli("allowlist", "remove", sales.host)
        # DESIGN §5: effective within 5 s in every running process; the content of the
        # removed host disappears from timelines.
        wait_for(lambda: in_home(hq, ada, before["uri"]) is None, "sales' post hidden on hq", 10)
        assert sales.host not in hq.api(None, "GET", "/api/v1/instance/peers").json()
        unsent = post(hq, ada, "HQ only, sales is not allowed")
        assert pending(hq, sales.host) == 0

        rejected = post(sales, bo, "Sales update nobody at hq should see")
        assert sales.api(bo, "POST", f"/api/v1/statuses/{copy['id']}/favourite").status_code == 200
        refused = deliveries_once(
            sales, hq.host, lambda d: int(d["failed"]) >= 2, "hq refusing sales' deliveries"
        )
        assert "403" in refused["last error"]
        failed = sales.deliveries("--failed", "--host", hq.host).splitlines()
        assert any(rejected["uri"] in line and "HTTP 403" in line for line in failed), failed
        assert in_home(hq, ada, rejected["uri"]) is None
        assert status(hq, ada, first["id"]).json()["favourites_count"] == 0

        hq.cli("allowlist", "add", sales.host)
        newcomer = sales.create_user("newcomer")
        wait_for(lambda: resolve(hq, ada, acct(sales, newcomer)), "hq federating with sales again")
        assert in_home(hq, ada, before["uri"]) is not None  # hidden, not lost
        assert sales.host in hq.api(None, "GET", "/api/v1/instance/peers").json()
        again = post(hq, ada, "HQ update after the allowlist is restored")
        arrives(sales, bo, again["uri"])
        assert in_home(sales, bo, unsent["uri"]) is None
        back = post(sales, bo, "Sales update after the allowlist is restored")
        arrives(hq, ada, back["uri"])


def test_nobody_ever_connected_to_the_disallowed_node(net: Network, listener: FakePeer) -> None:
    """After every flow of this module: hq and sales never opened a connection to dev."""
    assert listener.connections == 0
    assert [r.path for r in listener.received] == []


def consecutive_free_ports(count: int) -> int:
    for _ in range(100):
        base = random.randrange(20000, 60000)
        sockets = []
        try:
            for port in range(base, base + count):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise AssertionError("no free consecutive ports")


def test_demo_runs_three_federating_nodes_until_ctrl_c(tmp_path: Path) -> None:
    base = consecutive_free_ports(3)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLURFUNK_")}
    demo = subprocess.Popen(
        [FLURFUNK, "demo", "--base-port", str(base)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: queue.Queue[str] = queue.Queue()
    assert demo.stdout is not None

    def read() -> None:
        for line in demo.stdout or []:
            output.put(line)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        printed: list[str] = []
        while not printed or "Press Ctrl-C" not in printed[-1]:
            printed.append(output.get(timeout=120))
        text = "".join(printed)
        assert "Federation problems" not in text, text
        people = dict(re.findall(r"^\s+(\S+@\S+)\s+password: \S+\s+token: (\S+)$", text, re.M))
        assert len(people) == 6, text
        assert (tmp_path / "var" / "demo" / "sales" / "flurfunk.db").exists()

        carla = next(h for h in people if h.startswith("carla@"))
        hq_domain = f"hq.flurfunk.test:{base}"

        def from_hq() -> list[dict[str, Any]]:
            answer = httpx.get(
                f"http://127.0.0.1:{base + 1}/api/v1/timelines/home",
                headers={"Authorization": f"Bearer {people[carla]}"},
                timeout=30,
            )
            assert answer.status_code == 200, answer.text
            return [s for s in answer.json() if s["account"]["acct"].endswith("@" + hq_domain)]

        assert wait_for(from_hq, "a post from hq in carla's home on sales")
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=60)
        reader.join(10)
        demo.stdout.close()
    assert demo.returncode == 0
    for port in range(base, base + 3):
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/livez", timeout=2)


def test_polls_are_voted_on_across_nodes(net: Network) -> None:
    """A poll on hq reaches sales as a poll; votes from either node count once, on hq, and
    everyone sees the same numbers; the vote itself never shows up as a post."""
    hq, sales = net["hq"], net["sales"]
    ada, cy = hq.create_user("pollada"), hq.create_user("pollcy")
    bo, di = sales.create_user("pollbo"), sales.create_user("polldi")
    follows(sales, bo, hq, ada)
    follows(sales, di, hq, ada)
    original = post(
        hq, ada, "Summer party: where?", poll={"options": ["Lake", "Roof"], "expires_in": 3600}
    )
    copy = arrives(sales, bo, original["uri"])
    assert [o["title"] for o in copy["poll"]["options"]] == ["Lake", "Roof"]
    assert copy["poll"]["expires_at"][:16] == original["poll"]["expires_at"][:16]
    assert (copy["poll"]["votes_count"], copy["poll"]["voted"]) == (0, False)

    voted = sales.api(
        bo, "POST", f"/api/v1/polls/{copy['poll']['id']}/votes", json={"choices": [1]}
    )
    assert voted.status_code == 200, voted.text
    assert (voted.json()["own_votes"], voted.json()["votes_count"]) == ([1], 1)

    def poll_on(node: FedNode, user: User, status_id: str) -> dict[str, Any]:
        return dict(_poll_of(status(node, user, status_id)))

    wait_for(
        lambda: [o["votes_count"] for o in poll_on(hq, ada, original["id"])["options"]] == [0, 1],
        "bo's vote counted on hq",
    )
    assert poll_on(hq, ada, original["id"])["votes_count"] == 1

    local = hq.api(
        cy, "POST", f"/api/v1/polls/{original['poll']['id']}/votes", json={"choices": [0]}
    )
    assert local.status_code == 200, local.text
    wait_for(
        lambda: [o["votes_count"] for o in poll_on(sales, di, copy["id"])["options"]] == [1, 1],
        "hq's new counts on sales",
    )
    seen_by_bo = poll_on(sales, bo, copy["id"])
    assert (seen_by_bo["voted"], seen_by_bo["own_votes"], seen_by_bo["votes_count"]) == (
        True,
        [1],
        2,
    )
    again = sales.api(
        bo, "POST", f"/api/v1/polls/{copy['poll']['id']}/votes", json={"choices": [0]}
    )
    assert again.status_code == 422
    assert not notified(hq, ada, "mention", acct(sales, bo))  # a vote is no post


def _poll_of(answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    poll: dict[str, Any] = answer.json()["poll"]
    return poll
