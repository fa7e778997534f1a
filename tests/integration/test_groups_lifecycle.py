"""Groups across three real nodes, beyond posting: deleting a group reaches the members'
nodes, boosts of group posts do what the group's visibility allows, and a member's node that
missed a post (down, or fetching it later) still gets it — while non-members' nodes get
nothing.

The nodes are shared by the module (users and groups are unique per test). A "does not
arrive" is only asserted after something sent later did arrive.
"""

from __future__ import annotations

import contextlib
import sqlite3
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
    seen,
    wait_for,
)
from tests.integration.test_groups import GROUPS, group_on, is_member, join, new_group, uris

RETRY_WAIT = 40.0  # the first retries of a failed delivery come after ~5 s, then ~10 s, ...


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    plans = {
        "dev": Plan(allow=("hq", "sales")),
        "hq": Plan(allow=("dev", "sales")),
        "sales": Plan(allow=("dev", "hq")),
    }
    tmp = tmp_path_factory.mktemp("groups-life")
    with network(tmp, "sqlite", plans, premigrated=True, at_once=1) as running:
        yield running


def search_statuses(net: Network, node: str, user: Any, uri: str) -> list[dict[str, Any]]:
    """`user` looks the post up by its URL, letting the node fetch it (a signed GET)."""
    answer = net[node].api(
        user, "GET", "/api/v2/search", params={"q": uri, "resolve": "true", "type": "statuses"}
    )
    assert answer.status_code == 200, answer.text
    return list(answer.json()["statuses"])


def my_groups(net: Network, node: str, user: Any) -> set[str]:
    """The groups `user` is a member of, as their node's group pages list them."""
    answer = net[node].api(user, "GET", "/api/v1/accounts/verify_credentials")
    me = answer.json()["id"]
    following = net[node].api(user, "GET", f"/api/v1/accounts/{me}/following").json()
    return {a["acct"] for a in following if a.get("group")}


def member_there(node: Any, user: Any, group_id: str) -> bool:
    """Whether `user` is a member; a group deleted there has no relationship at all."""
    answer = node.api(user, "GET", "/api/v1/accounts/relationships", params={"id": group_id})
    assert answer.status_code == 200, answer.text
    return any(r["following"] for r in answer.json())


def test_deleting_a_group_reaches_every_member_node(net: Network) -> None:
    dev, hq, sales = net["dev"], net["hq"], net["sales"]
    owner = dev.create_user("downer")
    ha, sa = hq.create_user("dha"), sales.create_user("dsa")
    name = new_group(dev, owner, "--visibility", "members")
    handle = f"{name}@{dev.domain}"
    on_hq, on_sales = group_on(hq, ha, dev, name), group_on(sales, sa, dev, name)
    join(hq, ha, on_hq["id"])
    join(sales, sa, on_sales["id"])
    wait_for(lambda: is_member(hq, ha, on_hq["id"]), "ha joining")
    wait_for(lambda: is_member(sales, sa, on_sales["id"]), "sa joining")
    assert handle in my_groups(net, "sales", sa)
    sent = post(hq, ha, f"@{handle} before the group goes")
    arrives(sales, sa, sent["uri"])

    # Only the owner may delete it.
    refused = hq.api(ha, "DELETE", f"{GROUPS}/{name}")
    assert refused.status_code == 404  # ha has no account on dev: the group is not theirs
    deleted = dev.api(owner, "DELETE", f"{GROUPS}/{name}")
    assert deleted.status_code == 200, deleted.text
    assert dev.api(owner, "GET", f"{GROUPS}/{name}").status_code == 404
    assert name not in {g["name"] for g in dev.api(owner, "GET", GROUPS).json()}

    # Both member nodes hear it: the membership ends there, and the group is gone.
    wait_for(lambda: not member_there(hq, ha, on_hq["id"]), "hq hearing the Delete")
    wait_for(lambda: not member_there(sales, sa, on_sales["id"]), "sales hearing the Delete")
    assert handle not in my_groups(net, "sales", sa)
    gone = sales.api(sa, "GET", f"/api/v1/accounts/{on_sales['id']}/statuses")
    assert gone.status_code == 404 or sent["uri"] not in uris(gone.json())
    # The author keeps the post; nothing new reaches the former members through the group.
    assert hq.api(ha, "GET", f"/api/v1/statuses/{sent['id']}").status_code == 200

    # Its name stays taken: another node must never mistake a new group for the old one.
    again = dev.api(owner, "POST", GROUPS, json={"name": name})
    assert again.status_code == 422
    assert "taken" in again.json()["error"]


def test_boosts_follow_the_groups_visibility(net: Network) -> None:
    dev, hq, sales = net["dev"], net["hq"], net["sales"]
    owner, speaker = dev.create_user("bowner"), dev.create_user("speaker")
    hb, fan = hq.create_user("hb"), sales.create_user("fan")
    open_name = new_group(dev, owner)  # public
    closed_name = new_group(dev, owner, "--visibility", "members")
    for name in (open_name, closed_name):
        dev.cli("group", "add-member", name, speaker.name)
        found = group_on(hq, hb, dev, name)
        join(hq, hb, found["id"])
        wait_for(lambda found=found: is_member(hq, hb, found["id"]), f"hb joining {name}")
    follows(sales, fan, hq, hb)  # fan follows hb, but is in neither group

    # A public group's post may be boosted like any public post: hb's followers see it.
    public_post = post(dev, speaker, f"@{open_name} the canteen opens at 11", visibility="public")
    assert public_post["visibility"] == "public"
    on_hq = arrives(hq, hb, public_post["uri"])
    boosted = hq.api(hb, "POST", f"/api/v1/statuses/{on_hq['id']}/reblog")
    assert boosted.status_code == 200, boosted.text
    assert boosted.json()["reblogged"] is True

    def boost_reached_fan() -> bool:
        return any(
            (s.get("reblog") or {}).get("uri") == public_post["uri"]
            for s in net["sales"].api(fan, "GET", "/api/v1/timelines/home").json()
        )

    wait_for(boost_reached_fan, "hb's boost reaching fan on sales")

    # A members-only group's post cannot be boosted, with a reason; nothing leaves the group.
    secret = post(dev, speaker, f"@{closed_name} the numbers before the call")
    on_hq_secret = arrives(hq, hb, secret["uri"])
    refused = hq.api(hb, "POST", f"/api/v1/statuses/{on_hq_secret['id']}/reblog")
    assert refused.status_code == 422
    assert "members-only group" in refused.json()["error"]
    assert hq.api(hb, "GET", f"/api/v1/statuses/{on_hq_secret['id']}").json()["reblogged"] is False
    # On the group's own node too.
    on_dev = seen(dev, speaker, secret["uri"])
    assert on_dev is not None
    assert dev.api(owner, "POST", f"/api/v1/statuses/{on_dev['id']}/reblog").status_code == 422
    control = post(hq, hb, "after the refused boost")
    arrives(sales, fan, control["uri"])
    assert seen(sales, fan, secret["uri"]) is None


def test_posts_to_a_public_group_of_another_node_may_be_boosted(net: Network) -> None:
    """hq learns the groups' visibility from their actors on dev: a public post to the public
    group stays public and may be boosted; one to the members-only group stays its members'."""
    dev, hq, sales = net["dev"], net["hq"], net["sales"]
    owner, booster = dev.create_user("powner"), dev.create_user("pbooster")
    writer, fan = hq.create_user("writer"), sales.create_user("pfan")
    open_name = new_group(dev, owner)  # public
    closed_name = new_group(dev, owner, "--visibility", "members")
    for name in (open_name, closed_name):
        dev.cli("group", "add-member", name, booster.name)
        found = group_on(hq, writer, dev, name)
        join(hq, writer, found["id"])
        wait_for(lambda found=found: is_member(hq, writer, found["id"]), f"writer joining {name}")
    follows(sales, fan, hq, writer)  # fan is in neither group

    # Posted on hq to dev's public group: public on every node, boosted on hq and on dev.
    sent = post(hq, writer, f"@{open_name}@{dev.domain} lunch at 12", visibility="public")
    assert sent["visibility"] == "public"
    boosted = hq.api(writer, "POST", f"/api/v1/statuses/{sent['id']}/reblog")
    assert boosted.status_code == 200, boosted.text
    on_dev = arrives(dev, booster, sent["uri"])
    assert on_dev["visibility"] == "public"
    assert dev.api(booster, "POST", f"/api/v1/statuses/{on_dev['id']}/reblog").status_code == 200
    arrives(sales, fan, sent["uri"])  # through writer's own public post

    # To the members-only group: members only, and the boost refused with its reason.
    secret = post(hq, writer, f"@{closed_name}@{dev.domain} the numbers", visibility="public")
    assert secret["visibility"] == "private"  # the API shows `group` as private
    refused = hq.api(writer, "POST", f"/api/v1/statuses/{secret['id']}/reblog")
    assert refused.status_code == 422
    assert "members-only group" in refused.json()["error"]
    control = post(hq, writer, "after the members-only post")
    arrives(sales, fan, control["uri"])
    assert seen(sales, fan, secret["uri"]) is None

    # The owner opens the group: dev tells hq (Update{Group}), and new posts may be public.
    closed = dev.api(owner, "GET", f"{GROUPS}/{closed_name}").json()
    opened = dev.api(owner, "PATCH", f"{GROUPS}/{closed['id']}", json={"visibility": "public"})
    assert opened.status_code == 200, opened.text
    wait_for(lambda: group_visibility(hq, closed_name) == "public", "hq learning of the change")
    now_open = post(hq, writer, f"@{closed_name}@{dev.domain} open now", visibility="public")
    assert now_open["visibility"] == "public"


def test_a_group_closed_again_is_members_only_on_member_nodes(net: Network) -> None:
    """Every change of a group's visibility reaches the member nodes, the second one too:
    posts from hq to a group that was opened and then closed again stay its members'."""
    dev, hq = net["dev"], net["hq"]
    owner, writer = dev.create_user("cowner"), hq.create_user("cwriter")
    name = new_group(dev, owner, "--visibility", "members")
    found = group_on(hq, writer, dev, name)
    join(hq, writer, found["id"])
    wait_for(lambda: is_member(hq, writer, found["id"]), f"writer joining {name}")
    group_id = dev.api(owner, "GET", f"{GROUPS}/{name}").json()["id"]
    for visibility in ("public", "members"):
        changed = dev.api(owner, "PATCH", f"{GROUPS}/{group_id}", json={"visibility": visibility})
        assert changed.status_code == 200, changed.text
        wait_for(
            lambda v=visibility: group_visibility(hq, name) == v, f"hq learning it is {visibility}"
        )
    closed = post(hq, writer, f"@{name}@{dev.domain} members only again", visibility="public")
    assert closed["visibility"] == "private"  # the API shows `group` as private


def group_visibility(node: FedNode, name: str) -> str | None:
    """What `node` keeps of a remote group's visibility (nothing in the API shows it)."""
    with contextlib.closing(sqlite3.connect(node.data_dir / "flurfunk.db")) as db:
        row = db.execute(
            "SELECT group_visibility FROM accounts WHERE username = ? AND domain IS NOT NULL",
            (name,),
        ).fetchone()
    return None if row is None else row[0]


def test_a_member_node_that_was_down_gets_the_post(net: Network) -> None:
    dev, hq, sales = net["dev"], net["hq"], net["sales"]
    owner = dev.create_user("rowner")
    ha, sa = hq.create_user("rha"), sales.create_user("rsa")
    name = new_group(dev, owner, "--visibility", "members")
    on_hq, on_sales = group_on(hq, ha, dev, name), group_on(sales, sa, dev, name)
    join(hq, ha, on_hq["id"])
    join(sales, sa, on_sales["id"])
    wait_for(lambda: is_member(hq, ha, on_hq["id"]), "ha joining")
    wait_for(lambda: is_member(sales, sa, on_sales["id"]), "sa joining")

    sales.stop()
    try:
        sent = post(hq, ha, f"@{name}@{dev.domain} posted while sales was down")
        arrives(dev, owner, sent["uri"])  # the group has relayed it; sales missed it
    finally:
        sales.start()
    # The group's node retries its delivery to sales (durable rows with back-off); anything it
    # hears from sales makes the pending rows due at once, as sa's next post in the group does
    # (on a busy machine the restart alone can outlast several back-off steps).
    back = post(sales, sa, f"@{name}@{dev.domain} back online")
    arrives(dev, owner, back["uri"])
    wait_for(lambda: in_home(sales, sa, sent["uri"]), "the missed post on sales", RETRY_WAIT)


def test_member_nodes_fetch_group_posts_and_others_get_nothing(net: Network) -> None:
    dev, hq, sales = net["dev"], net["hq"], net["sales"]
    owner, author = dev.create_user("fowner"), dev.create_user("fauthor")
    sa, outsider = sales.create_user("fsa"), hq.create_user("fout")
    name = new_group(dev, owner, "--visibility", "members")
    dev.cli("group", "add-member", name, author.name)
    sent = post(dev, author, f"@{name} only for the members")
    assert sent["visibility"] == "private"

    # sa joins later: sales never received the post, and its node may fetch it now.
    on_sales = group_on(sales, sa, dev, name)
    assert search_statuses(net, "sales", sa, sent["uri"]) == []  # no member on sales yet
    join(sales, sa, on_sales["id"])
    wait_for(lambda: is_member(sales, sa, on_sales["id"]), "sa joining")
    found = search_statuses(net, "sales", sa, sent["uri"])
    assert [s["uri"] for s in found] == [sent["uri"]]
    assert found[0]["visibility"] == "private"
    # hq has no member: its signed fetch gets 404, so the search finds nothing.
    assert search_statuses(net, "hq", outsider, sent["uri"]) == []
