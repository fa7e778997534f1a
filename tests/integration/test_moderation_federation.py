"""Reports across nodes: a person on hq reports a post of a colleague on sales and asks for it
to be forwarded; sales' moderators find it (as a Flag from hq's instance actor, the reporter
unnamed) and are notified. Flags that name nothing of sales, too much, or carry an oversized
comment are dropped without a trace in the reports, and never answered with a 5xx."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from tests.federation_kit import (
    FakeActor,
    FedNode,
    Network,
    Plan,
    arrives,
    follows,
    network,
    peer_in_thread,
    post,
    seen,
    wait_for,
)
from tests.integration.test_admin_accounts_api import staff
from tests.kit import User

MALLORY = "mallory.flurfunk.test"


@pytest.fixture(scope="module")
def mallory() -> Iterator[tuple[FakeActor, int]]:
    with peer_in_thread() as remote:
        actor = FakeActor.generate(MALLORY, "mallory")
        actor.publish(remote)
        yield actor, remote.port


@pytest.fixture(scope="module")
def net(
    tmp_path_factory: pytest.TempPathFactory, mallory: tuple[FakeActor, int]
) -> Iterator[Network]:
    plans = {
        "hq": Plan(allow=("sales",)),
        "sales": Plan(allow=("hq", MALLORY), stand_ins={MALLORY: mallory[1]}),
    }
    with network(tmp_path_factory.mktemp("moderation"), "sqlite", plans) as running:
        yield running


def resolved_status(node: FedNode, user: User, uri: str) -> dict[str, Any]:
    found = node.api(
        user, "GET", "/api/v2/search", params={"q": uri, "type": "statuses", "resolve": "true"}
    ).json()
    assert found["statuses"], found
    return dict(found["statuses"][0])


def reports_about(node: FedNode, moderator: User, account_id: str) -> list[dict[str, Any]]:
    answer = node.api(
        moderator, "GET", "/api/v1/admin/reports", params={"target_account_id": account_id}
    )
    assert answer.status_code == 200, answer.text
    return list(answer.json())


def test_a_forwarded_report_reaches_the_moderators_of_the_other_node(net: Network) -> None:
    hq, sales = net["hq"], net["sales"]
    mod = staff(sales, "salesmod", "moderator")
    hq_mod = staff(hq, "hqmod", "moderator")
    bo = sales.create_user("bo")
    ada = hq.create_user("ada")
    bad = post(sales, bo, "Our Q3 numbers, before they are published: ...")
    seen = resolved_status(hq, ada, bad["uri"])

    filed = hq.api(
        ada,
        "POST",
        "/api/v1/reports",
        data={
            "account_id": seen["account"]["id"],
            "status_ids[]": [seen["id"]],
            "comment": "Leaks unpublished figures",
            "category": "legal",
            "forward": "true",
        },
    )
    assert filed.status_code == 200, filed.text
    report = filed.json()
    assert report["category"] == "legal"
    assert report["forwarded"] is True
    assert report["status_ids"] == [seen["id"]]
    # hq's own moderators have it too, with the reporter named.
    here = reports_about(hq, hq_mod, seen["account"]["id"])
    assert [r["account"]["username"] for r in here] == [ada.name]

    bo_id = sales.api(bo, "GET", "/api/v1/accounts/verify_credentials").json()["id"]
    arrived = wait_for(lambda: reports_about(sales, mod, bo_id), "the report on sales")
    assert len(arrived) == 1
    there = arrived[0]
    assert there["comment"] == "Leaks unpublished figures"
    assert [s["uri"] for s in there["statuses"]] == [bad["uri"]]
    assert there["account"]["domain"] == hq.domain  # hq's instance actor, not ada
    assert ada.name not in str(there["account"])
    notes = sales.api(mod, "GET", "/api/v1/notifications", params={"types[]": "admin.report"})
    assert [n["report"]["id"] for n in notes.json()] == [there["id"]]

    # The moderator works it: assign, resolve, reopen.
    rid = there["id"]
    taken = sales.api(mod, "POST", f"/api/v1/admin/reports/{rid}/assign_to_self").json()
    assert taken["assigned_account"]["username"] == mod.name
    done = sales.api(mod, "POST", f"/api/v1/admin/reports/{rid}/resolve").json()
    assert done["action_taken"] is True
    assert reports_about(sales, mod, bo_id) == []  # unresolved only, by default
    resolved = sales.api(mod, "GET", "/api/v1/admin/reports", params={"resolved": "true"})
    assert [r["id"] for r in resolved.json()] == [rid]
    again = sales.api(mod, "POST", f"/api/v1/admin/reports/{rid}/reopen").json()
    assert again["action_taken"] is False


def test_hostile_report_requests_are_refused_and_change_nothing(net: Network) -> None:
    hq = net["hq"]
    mod = staff(hq, "mod", "moderator")
    ann, bob = hq.create_user("ann"), hq.create_user("bob")
    bob_id = hq.api(bob, "GET", "/api/v1/accounts/verify_credentials").json()["id"]
    others = post(hq, ann, "not bob's")
    bad_requests: list[tuple[dict[str, Any], int]] = [
        ({}, 422),
        ({"account_id": "nonsense"}, 404),
        ({"account_id": "99999999"}, 404),
        ({"account_id": bob_id, "category": "rude"}, 422),
        ({"account_id": bob_id, "comment": "x" * 1001}, 422),
        ({"account_id": bob_id, "status_ids[]": [others["id"]]}, 422),
        ({"account_id": bob_id, "status_ids[]": ["123"]}, 404),
        ({"account_id": bob_id, "rule_ids[]": ["42"]}, 422),
        ({"account_id": bob_id, "forward": "perhaps"}, 422),
    ]
    for data, code in bad_requests:
        answer = hq.api(ann, "POST", "/api/v1/reports", data=data)
        assert answer.status_code == code, (data, answer.text)
        assert "error" in answer.json()
    assert reports_about(hq, mod, bob_id) == []
    # Plain users are refused the admin API; unknown reports are 404.
    assert hq.api(ann, "GET", "/api/v1/admin/reports").status_code == 403
    for path in ("/api/v1/admin/reports/123", "/api/v1/admin/reports/x"):
        assert hq.api(mod, "GET", path).status_code == 404
    assert hq.api(mod, "POST", "/api/v1/admin/reports/123/resolve").status_code == 404
    assert hq.api(None, "POST", "/api/v1/reports", data={"account_id": bob_id}).status_code == 401


def test_hostile_flags_are_dropped(net: Network, mallory: tuple[FakeActor, int]) -> None:
    sales = net["sales"]
    actor = mallory[0]
    mod = staff(sales, "mod", "moderator")
    cat = sales.create_user("cat")
    cat_id = sales.api(cat, "GET", "/api/v1/accounts/verify_credentials").json()["id"]
    cat_uri = sales.actor_uri(cat)
    hostile = [
        actor.activity("Flag", f"https://{MALLORY}/users/nobody"),  # not ours
        actor.activity("Flag", f"{sales.public_url}/users/nobody-{secrets.token_hex(3)}"),
        actor.activity("Flag", [cat_uri] * 200),  # too many objects
        actor.activity("Flag", cat_uri, content="x" * 6000),  # oversized comment
        actor.activity("Flag", cat_uri, content={"not": "text"}),
        actor.activity("Flag", None),
    ]
    for activity in hostile:
        answer = actor.post(sales, activity)
        assert answer.status_code < 500, answer.text
    control = actor.activity("Flag", cat_uri, content="a real one")
    assert actor.post(sales, control).status_code == 202
    assert actor.post(sales, control).status_code == 202  # the same again changes nothing
    arrived = wait_for(lambda: reports_about(sales, mod, cat_id), "mallory's valid Flag")
    assert [r["comment"] for r in arrived] == ["a real one"]


def test_marking_a_post_sensitive_reaches_the_nodes_that_have_it(net: Network) -> None:
    hq, sales = net["hq"], net["sales"]
    first, second = staff(hq, "modone", "moderator"), staff(hq, "modtwo", "moderator")
    author, reader = hq.create_user("author"), sales.create_user("reader")
    follows(sales, reader, hq, author)
    shown = post(hq, author, "pictures from the plant floor")
    arrives(sales, reader, shown["uri"])
    assert seen(sales, reader, shown["uri"])["sensitive"] is False  # type: ignore[index]

    marked = hq.api(
        first,
        "POST",
        "/api/v1/flurfunk/moderation/statuses",
        data={"type": "sensitive", "status_ids[]": [shown["id"]], "text": "Machinery"},
    )
    assert marked.status_code == 200, marked.text
    wait_for(
        lambda: (seen(sales, reader, shown["uri"]) or {}).get("sensitive") is True,
        "the post marked sensitive on sales",
    )

    # Approving the author's appeal lifts the mark, there too.
    warning_id = marked.json()[0]["id"]
    appeal = hq.api(
        author, "POST", "/api/v1/flurfunk/appeals", data={"warning_id": warning_id, "text": "ok"}
    )
    assert appeal.status_code == 200, appeal.text
    approved = hq.api(second, "POST", f"/api/v1/flurfunk/appeals/{appeal.json()['id']}/approve")
    assert approved.status_code == 200, approved.text
    wait_for(
        lambda: (seen(sales, reader, shown["uri"]) or {}).get("sensitive") is False,
        "the mark lifted on sales",
    )
