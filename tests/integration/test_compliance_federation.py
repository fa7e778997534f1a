"""Compliance across two real nodes: a watched term in a post from sales raises a compliance
report on hq, and a `hold` term on sales keeps a post there until a compliance officer
releases it, after which hq gets it.

What federation delivers is awaited, bounded; "does not arrive" is asserted only after a post
sent later did arrive.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.federation_kit import (
    FedNode,
    Network,
    Plan,
    arrives,
    follows,
    in_home,
    network,
    post,
    wait_for,
)
from tests.kit import User

SCOPES = "read write follow push admin:read admin:write"


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    plans = {"hq": Plan(allow=("sales",)), "sales": Plan(allow=("hq",))}
    with network(tmp_path_factory.mktemp("compliance-fed"), "sqlite", plans) as running:
        yield running


def officer(node: FedNode) -> User:
    user = node.create_user("officer", via_cli=True, scopes=SCOPES)
    node.cli("user", "role", user.name, "admin")
    return user


def ok(answer: Any) -> Any:
    assert answer.status_code == 200, answer.text
    return answer.json()


def reports(node: FedNode, moderator: User) -> list[dict[str, Any]]:
    return list(ok(node.api(moderator, "GET", "/api/v1/admin/reports", params={"limit": 200})))


def test_a_watched_term_in_a_post_from_sales_raises_a_report_on_hq(net: Network) -> None:
    hq, sales = net["hq"], net["sales"]
    compliance, ada, bo = officer(hq), hq.create_user("ada"), sales.create_user("bo")
    body = {"term": "Projekt Falke", "label": "unreleased products"}
    ok(hq.api(compliance, "POST", "/api/v1/flurfunk/watch_terms", json=body))
    follows(hq, ada, sales, bo)
    sent = post(sales, bo, "Heute Kickoff für projekt falke, streng vertraulich")
    arrived = arrives(hq, ada, sent["uri"])
    assert "flurfunk" not in arrived  # the post is out already; nothing is held on hq
    about = [
        r for r in reports(hq, compliance) if arrived["id"] in [s["id"] for s in r["statuses"]]
    ]
    assert len(about) == 1
    [report] = about
    assert report["category"] == "legal"
    assert report["account"] is None
    assert report["target_account"]["account"]["acct"] == sales.handle(bo)
    assert "unreleased products" in report["comment"]
    assert "projekt falke" in report["comment"]
    # An edit that brings the term in is reported too, once hq has the new text.
    harmless = post(sales, bo, "Kickoff am Montag")
    copy = arrives(hq, ada, harmless["uri"])
    edit = {"status": "Kickoff am Montag: Projekt Falke"}
    assert sales.api(bo, "PUT", f"/api/v1/statuses/{harmless['id']}", json=edit).status_code == 200
    wait_for(
        lambda: [
            r for r in reports(hq, compliance) if copy["id"] in [s["id"] for s in r["statuses"]]
        ],
        "a report on hq about the edited post",
    )
    # The author is not told: sales knows nothing of hq's report.
    told = ok(sales.api(bo, "GET", "/api/v1/notifications"))
    assert [n["type"] for n in told] == ["follow"]  # ada's follow, nothing else


def test_a_hold_term_keeps_a_post_on_its_node_until_released(net: Network) -> None:
    hq, sales = net["hq"], net["sales"]
    compliance, ada, bo = officer(sales), hq.create_user("ada"), sales.create_user("bo")
    body = {"term": "Q4 results", "label": "financial results", "hold": True}
    term = ok(sales.api(compliance, "POST", "/api/v1/flurfunk/watch_terms", json=body))
    follows(hq, ada, sales, bo)
    held = post(sales, bo, "Our Q4 results beat the plan")
    assert held["flurfunk"] == {"pending_review": True}
    later = post(sales, bo, "Lunch at noon?")
    arrives(hq, ada, later["uri"])  # deliveries from sales to hq work ...
    assert in_home(hq, ada, held["uri"]) is None  # ... but the held post stayed on sales
    assert ok(hq.api(ada, "GET", "/api/v2/search", params={"q": held["uri"]}))["statuses"] == []

    released = ok(sales.api(compliance, "POST", f"/api/v1/flurfunk/holds/{held['id']}/release"))
    assert "flurfunk" not in released
    arrived = arrives(hq, ada, held["uri"])
    assert "Q4 results" in arrived["content"]
    entries = ok(
        sales.api(compliance, "GET", "/api/v1/flurfunk/audit", params={"action": "watch.release"})
    )
    assert [(e["target"], e["actor"]) for e in entries] == [(held["id"], compliance.name)]
    ok(sales.api(compliance, "DELETE", f"/api/v1/flurfunk/watch_terms/{term['id']}"))


def test_a_held_post_edited_then_deleted_never_reaches_the_other_node(net: Network) -> None:
    hq, sales = net["hq"], net["sales"]
    compliance, ada, bo = officer(sales), hq.create_user("ada"), sales.create_user("bo")
    body = {"term": "merger", "label": "M&A", "hold": True}
    term = ok(sales.api(compliance, "POST", "/api/v1/flurfunk/watch_terms", json=body))
    follows(hq, ada, sales, bo)
    held = post(sales, bo, "The merger is on")
    edited = sales.api(bo, "PUT", f"/api/v1/statuses/{held['id']}", json={"status": "No merger"})
    assert edited.status_code == 200
    assert sales.api(bo, "DELETE", f"/api/v1/statuses/{held['id']}").status_code == 200
    later = post(sales, bo, "Nothing to see")
    arrives(hq, ada, later["uri"])
    assert in_home(hq, ada, held["uri"]) is None
    assert (
        sales.api(compliance, "POST", f"/api/v1/flurfunk/holds/{held['id']}/release").status_code
        == 404
    )
    ok(sales.api(compliance, "DELETE", f"/api/v1/flurfunk/watch_terms/{term['id']}"))
