"""Searching posts that came from another node: a follower finds the author's followers-only
post by its words (stemmed, after an edit that arrives by federation), a colleague who does not
follow finds only the public one, and nothing is found once IT removes the node from the
allowlist. Two real nodes, hq and sales, on SQLite and on PostgreSQL."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from tests.federation_kit import Network, Plan, arrives, follows, network, post, wait_for
from tests.kit import User


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def net(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Network]:
    plans = {"hq": Plan(allow=("sales",)), "sales": Plan(allow=("hq",))}
    with network(tmp_path_factory.mktemp("search"), request.param, plans) as running:
        yield running


def found(net: Network, user: User, q: str) -> list[str]:
    answer = net["hq"].api(
        user, "GET", "/api/v2/search", params={"q": q, "type": "statuses", "resolve": "false"}
    )
    assert answer.status_code == 200, answer.text
    return [s["uri"] for s in answer.json()["statuses"]]


def test_remote_posts_are_found_as_their_audience_may_see_them(net: Network) -> None:
    hq, sales = net["hq"], net["sales"]
    ada, cy, bo = hq.create_user("ada"), hq.create_user("cy"), sales.create_user("bo")
    word = "zq" + secrets.token_hex(4)
    follows(hq, ada, sales, bo)
    private: dict[str, Any] = post(
        sales, bo, f"Vertrauliche Berichte {word}", visibility="private", language="de"
    )
    public: dict[str, Any] = post(sales, bo, f"Public reports {word}", language="en")
    arrives(hq, ada, private["uri"])
    arrives(hq, ada, public["uri"])
    assert found(net, ada, f"Bericht {word}") == [private["uri"]]
    assert found(net, ada, f"report {word}") == [public["uri"]]
    # Remote posts keep their publication time, given in whole seconds: order unknown here.
    by_author = found(net, ada, f"{word} from:{bo.name}@{sales.domain}")
    assert sorted(by_author) == sorted([public["uri"], private["uri"]])
    assert found(net, cy, word) == [public["uri"]]  # not a follower: only the public post

    edited = sales.api(
        bo, "PUT", f"/api/v1/statuses/{public['id']}", json={"status": f"Umsatzzahlen {word}"}
    )
    assert edited.status_code == 200, edited.text
    wait_for(lambda: found(net, ada, f"Umsatzzahlen {word}") == [public["uri"]], "the edit")
    assert found(net, ada, f"report {word}") == []

    assert sales.api(bo, "DELETE", f"/api/v1/statuses/{private['id']}").status_code == 200
    wait_for(lambda: found(net, ada, f"Bericht {word}") == [], "the delete reaching hq")

    hq.cli("allowlist", "remove", sales.host)
    wait_for(lambda: found(net, ada, word) == [], "the allowlist change hiding sales")
