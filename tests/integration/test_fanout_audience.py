"""Followers on another node share one delivery: however many colleagues there follow someone,
their node receives each post (and boost) once, at its shared inbox.

A real node (`hq`) federates with two fake nodes (`sales`, `east`), both allowed.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import BACKENDS
from tests.fakenode import FakeActor, FakeNode, NamedNode, fake_node, node_named, wait_for
from tests.kit import User, postgres_available, require_service

Net = tuple[NamedNode, FakeNode, FakeNode]


@pytest.fixture(scope="module", params=BACKENDS)
def net(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    backend: str = request.param
    if backend == "postgres":
        available, reason = postgres_available()
        require_service("PostgreSQL", available, reason)
    with (
        fake_node("sales.flurfunk.test") as sales,
        fake_node("east.flurfunk.test") as east,
        node_named(
            tmp_path_factory.mktemp(f"fanout-{backend}"),
            backend,
            "hq.flurfunk.test",
            FLURFUNK_ALLOWLIST="sales.flurfunk.test,east.flurfunk.test",
            FLURFUNK_CONNECT_TO=f"{sales.connect_to},{east.connect_to}",
        ) as hq,
    ):
        yield hq, sales, east


def follows(hq: NamedNode, home: FakeNode, user: User, prefix: str) -> FakeActor:
    """An actor on `home` follows `user`; hq accepts."""
    actor = home.add_actor(prefix)
    follow = actor.activity("Follow", hq.actor_uri(user))
    assert home.post(actor, hq.node, hq.public_url, follow).status_code == 202
    home.wait("Accept", follow["id"], f"{user.name} to accept {actor.name}")
    return actor


def sent_report(hq: NamedNode) -> str:
    """`flurfunk deliveries`: the peer hosts that still have pending or failed deliveries."""
    return hq.node.cli("deliveries").stdout


def test_each_node_gets_a_post_and_a_boost_once_at_its_shared_inbox(net: Net) -> None:
    hq, sales, east = net
    user = hq.node.create_user("popular")
    for n in range(3):
        follows(hq, sales, user, f"fan{n}")
    follows(hq, east, user, "east")

    answer = hq.node.api(user, "POST", "/api/v1/statuses", data={"status": "to all of you"})
    assert answer.status_code == 200, answer.text
    post = answer.json()
    boost = hq.node.api(user, "POST", f"/api/v1/statuses/{post['id']}/reblog")
    assert boost.status_code == 200, boost.text

    for home in (sales, east):
        home.wait("Create", post["uri"])
        home.wait("Announce", post["uri"])
    # Once nothing is pending, everything queued has been sent: count what arrived.
    wait_for(
        lambda: not any(home.host in sent_report(hq) for home in (sales, east)),
        "hq to have sent everything it queued",
    )
    for home in (sales, east):
        creates = home.about("Create", post["uri"])
        announces = home.about("Announce", post["uri"])
        assert [c.path for c in creates] == ["/inbox"]
        assert [a.path for a in announces] == ["/inbox"]
