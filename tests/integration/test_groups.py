"""Groups (FEP-1b12) across three real nodes: a members-only approval group on dev with
members on hq and sales; its posts and replies reach every member and nobody else.

The nodes are shared by the module (users and groups are unique per test). A "does not
arrive" is only asserted after something sent later did arrive.
"""

from __future__ import annotations

import functools
import json
import secrets
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from tests.federation_kit import (
    FedNode,
    Network,
    Plan,
    arrives,
    follows,
    home,
    in_home,
    network,
    notified,
    post,
    relationship,
    resolve,
    seen,
    status,
    wait_for,
)
from tests.kit import User
from tests.stream_kit import client, frames, ws_url

GROUPS = "/api/v1/flurfunk/groups"


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    plans = {
        "dev": Plan(allow=("hq", "sales")),
        "hq": Plan(allow=("dev", "sales")),
        "sales": Plan(allow=("dev", "hq")),
    }
    with network(tmp_path_factory.mktemp("groups"), "sqlite", plans) as running:
        yield running


def new_group(dev: FedNode, owner: User, *options: str) -> str:
    name = f"g{secrets.token_hex(4)}"
    dev.cli("group", "create", name, "--owner", owner.name, *options)
    return name


def group_on(node: FedNode, user: User, dev: FedNode, name: str) -> dict[str, Any]:
    found = resolve(node, user, f"{name}@{dev.domain}")
    assert found is not None, f"{name}@{dev.domain} does not resolve on {node.host}"
    return found


def join(node: FedNode, user: User, group_id: str) -> dict[str, Any]:
    answer = node.api(user, "POST", f"/api/v1/accounts/{group_id}/follow")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def is_member(node: FedNode, user: User, group_id: str) -> bool:
    return bool(relationship(node, user, group_id)["following"])


def public_timeline(node: FedNode, user: User) -> list[dict[str, Any]]:
    answer = node.api(user, "GET", "/api/v1/timelines/public", params={"limit": 40})
    assert answer.status_code == 200
    return list(answer.json())


def shows(uri: str) -> Callable[[dict[str, Any]], bool]:
    """A stream frame showing the status `uri`."""

    def check(frame: dict[str, Any]) -> bool:
        if frame.get("event") not in ("update", "status.update"):
            return False
        return bool(json.loads(frame["payload"])["uri"] == uri)

    return check


def uris(statuses: list[dict[str, Any]]) -> set[str]:
    return {s["uri"] for s in statuses}


def test_members_only_approval_group_across_three_nodes(net: Network) -> None:
    dev, hq, sales = net["dev"], net["hq"], net["sales"]
    owner = dev.create_user("owner")
    ha, outsider = hq.create_user("ha"), hq.create_user("outsider")
    sa, nosy = sales.create_user("sa"), sales.create_user("nosy")
    name = new_group(
        dev, owner, "--title", "Apollo", "--visibility", "members", "--join", "approval"
    )

    # Joining an approval group: `requested` until a moderator accepts.
    on_hq, on_sales = group_on(hq, ha, dev, name), group_on(sales, sa, dev, name)
    assert on_hq["group"] is True
    assert on_sales["group"] is True
    assert join(hq, ha, on_hq["id"])["requested"] is True
    assert join(sales, sa, on_sales["id"])["requested"] is True

    def waiting() -> list[dict[str, Any]] | None:
        found = dev.api(owner, "GET", "/api/v1/follow_requests").json()
        return found if len(found) == 2 else None

    requests = wait_for(waiting, "both join requests on dev")
    by_acct = {r["acct"]: r for r in requests}
    # One through Mastodon's follow requests, the other through the group API.
    answer = dev.api(
        owner, "POST", f"/api/v1/follow_requests/{by_acct[hq.handle(ha)]['id']}/authorize"
    )
    assert answer.status_code == 200, answer.text
    listed = dev.api(owner, "GET", f"{GROUPS}/{name}/join_requests").json()
    assert [a["acct"] for a in listed] == [sales.handle(sa)]
    answer = dev.api(
        owner,
        "POST",
        f"{GROUPS}/{name}/join_requests/{by_acct[sales.handle(sa)]['id']}/authorize",
    )
    assert answer.status_code == 200, answer.text
    wait_for(lambda: is_member(hq, ha, on_hq["id"]), "ha joining")
    wait_for(lambda: is_member(sales, sa, on_sales["id"]), "sa joining")
    roles = {
        m["account"]["acct"]: m["role"]
        for m in dev.api(owner, "GET", f"{GROUPS}/{name}/members").json()
    }
    assert roles == {owner.name: "owner", hq.handle(ha): "member", sales.handle(sa): "member"}

    # nosy on sales follows the author, but is no member.
    follows(sales, nosy, hq, ha)

    with (
        connect(ws_url(sales, "?stream=user"), subprotocols=[Subprotocol(sa.token)]) as sa_ws,
        connect(ws_url(sales, "?stream=user"), subprotocols=[Subprotocol(nosy.token)]) as nosy_ws,
        connect(ws_url(sales, "?stream=public"), subprotocols=[Subprotocol(nosy.token)]) as pub_ws,
    ):
        # A public post that mentions a members-only group is addressed to the group only.
        sent = post(hq, ha, f"@{name}@{dev.domain} launch is on Friday", visibility="public")
        assert sent["visibility"] == "private"
        frames(sa_ws, shows(sent["uri"]))  # live on a member's stream on another node
        on_sales_post = arrives(sales, sa, sent["uri"])
        control = post(hq, ha, "Public note for everyone")
        nosy_frames = frames(nosy_ws, shows(control["uri"]))
        public_frames = frames(pub_ws, shows(control["uri"]))
        assert not [f for f in nosy_frames + public_frames if shows(sent["uri"])(f)]
    arrives(dev, owner, sent["uri"])

    # A reply from sales reaches dev and hq the same way.
    reply = post(
        sales, sa, "Great, I will tell the customers on Monday", in_reply_to_id=on_sales_post["id"]
    )
    arrives(dev, owner, reply["uri"])
    arrives(hq, ha, reply["uri"])

    # Edits and deletions inside the group travel the same way.
    edited = hq.api(
        ha,
        "PUT",
        f"/api/v1/statuses/{sent['id']}",
        json={"status": f"@{name}@{dev.domain} launch moved to Monday"},
    )
    assert edited.status_code == 200, edited.text
    wait_for(
        lambda: "Monday" in (in_home(sales, sa, sent["uri"]) or {}).get("content", ""),
        "the edit reaching sales",
    )
    on_sales_reply = in_home(sales, sa, reply["uri"])
    assert on_sales_reply is not None
    assert sales.api(sa, "DELETE", f"/api/v1/statuses/{on_sales_reply['id']}").status_code == 200
    wait_for(lambda: in_home(hq, ha, reply["uri"]) is None, "the deletion reaching hq")

    # A non-member's post is rejected and announced to nobody.
    intruding = post(hq, outsider, f"@{name}@{dev.domain} can I join the secret channel?")

    # A control: after it arrived, the group posts have not.
    control = post(hq, ha, "Another note for everyone")
    arrives(sales, nosy, control["uri"])
    second = post(hq, ha, f"@{name}@{dev.domain} second secret")
    arrives(sales, sa, second["uri"])
    for node, user in ((sales, nosy), (sales, sa), (dev, owner)):
        assert in_home(node, user, intruding["uri"]) is None
    for secret in (sent, reply, second):
        assert in_home(sales, nosy, secret["uri"]) is None
        assert seen(sales, nosy, secret["uri"]) is None
        assert secret["uri"] not in uris(public_timeline(sales, nosy))
        assert secret["uri"] not in uris(public_timeline(hq, outsider))
        assert seen(hq, outsider, secret["uri"]) is None
    sa_copy = in_home(sales, sa, sent["uri"])
    assert sa_copy is not None
    assert status(sales, nosy, sa_copy["id"]).status_code == 404
    # Nothing of the group is fetchable from the author's node: its object URL is 404 to
    # every signed fetch (members' nodes received it relayed) and 401 unsigned.
    path = urlsplit(sent["uri"]).path
    unsigned = httpx.get(hq.url + path, headers={"accept": "application/activity+json"})
    assert unsigned.status_code in (401, 404)

    # The group's timeline on dev holds its posts (for members).
    group_id = dev.api(owner, "GET", f"{GROUPS}/{name}").json()["id"]
    timeline = dev.api(owner, "GET", f"/api/v1/accounts/{group_id}/statuses").json()
    assert {sent["uri"], second["uri"]} <= uris(timeline)
    assert reply["uri"] not in uris(timeline)  # deleted by its author
    assert intruding["uri"] not in uris(timeline)

    # A moderator removes a post: gone on dev, and on the members' nodes (the author's too).
    on_dev = next(s for s in timeline if s["uri"] == second["uri"])
    removed = dev.api(owner, "DELETE", f"{GROUPS}/{name}/statuses/{on_dev['id']}")
    assert removed.status_code == 200, removed.text
    assert dev.api(owner, "GET", f"/api/v1/statuses/{on_dev['id']}").status_code == 404
    wait_for(lambda: in_home(sales, sa, second["uri"]) is None, "the removal reaching sales")
    wait_for(lambda: in_home(hq, ha, second["uri"]) is None, "the removal reaching hq")

    # A removed member stops receiving at once.
    dev.cli("group", "remove-member", name, sales.handle(sa))
    wait_for(lambda: not is_member(sales, sa, on_sales["id"]), "sa's node hearing the Remove")
    after = post(hq, ha, f"@{name}@{dev.domain} after sa left")
    arrives(dev, owner, after["uri"])
    control = post(hq, ha, "A third note for everyone")
    arrives(sales, nosy, control["uri"])
    assert in_home(sales, sa, after["uri"]) is None


def test_invite_group_admits_only_the_invited(net: Network) -> None:
    dev, hq, sales = net["dev"], net["hq"], net["sales"]
    owner = dev.create_user("owner")
    guest, stranger = hq.create_user("guest"), sales.create_user("stranger")
    name = new_group(dev, owner, "--join", "invite")
    dev.cli("group", "add-member", name, hq.handle(guest))
    members = dev.api(owner, "GET", f"{GROUPS}/{name}/members").json()
    assert {m["account"]["acct"]: m["role"] for m in members}[hq.handle(guest)] == "invited"

    # Mastodon.py sees a group, joins by following, posts by mention.
    app = client(hq, guest)
    found = app.search_v2(f"@{name}@{dev.domain}", resolve=True, result_type="accounts")[
        "accounts"
    ][0]
    assert found["group"] is True
    app.account_follow(found["id"])
    wait_for(lambda: app.account_relationships(found["id"])[0]["following"], "the invited joining")
    sent = app.status_post(f"@{name}@{dev.domain} hello from an invited member")
    arrives(dev, owner, sent["uri"])

    on_sales = group_on(sales, stranger, dev, name)
    join(sales, stranger, on_sales["id"])
    wait_for(
        lambda: not relationship(sales, stranger, on_sales["id"])["requested"],
        "dev rejecting the uninvited",
    )
    assert not is_member(sales, stranger, on_sales["id"])
    roles = {
        m["account"]["acct"]: m["role"]
        for m in dev.api(owner, "GET", f"{GROUPS}/{name}/members").json()
    }
    assert roles[hq.handle(guest)] == "member"
    assert sales.handle(stranger) not in roles


def test_group_api_guards(net: Network) -> None:
    dev = net["dev"]
    owner, member, other = (
        dev.create_user("owner"),
        dev.create_user("member"),
        dev.create_user("other"),
    )
    created = dev.api(
        owner, "POST", GROUPS, json={"name": f"g{secrets.token_hex(4)}", "visibility": "members"}
    )
    assert created.status_code == 200, created.text
    group = created.json()
    assert group["role"] == "owner"
    assert group["account"]["group"] is True
    added = dev.api(owner, "POST", f"{GROUPS}/{group['id']}/members", json={"acct": member.name})
    assert added.json()["role"] == "member"
    # A members-only group is 404 to outsiders; members see it but may not moderate.
    assert dev.api(other, "GET", f"{GROUPS}/{group['name']}").status_code == 404
    assert dev.api(member, "GET", f"{GROUPS}/{group['name']}").status_code == 200
    refused = dev.api(member, "PATCH", f"{GROUPS}/{group['id']}", json={"title": "Mine"})
    assert refused.status_code == 403
    assert "moderators" in refused.json()["error"]
    bad = dev.api(owner, "PATCH", f"{GROUPS}/{group['id']}", json={"join": "sometimes"})
    assert bad.status_code == 422
    promoted = dev.api(
        owner,
        "PATCH",
        f"{GROUPS}/{group['id']}/members/{_id(dev, member)}",
        json={"role": "moderator"},
    )
    assert promoted.status_code == 200
    assert promoted.json()["role"] == "moderator"
    assert (
        dev.api(member, "PATCH", f"{GROUPS}/{group['id']}", json={"title": "Ours"}).status_code
        == 200
    )
    # A post by a local member lands in the group's timeline; a stranger's is refused.
    refused_post = dev.api(
        other, "POST", "/api/v1/statuses", json={"status": f"@{group['name']} hi"}
    )
    assert refused_post.status_code == 422
    fine = post(dev, member, f"@{group['name']} hello")
    timeline = dev.api(owner, "GET", f"/api/v1/accounts/{group['id']}/statuses").json()
    assert fine["uri"] in uris(timeline)
    assert fine["uri"] not in uris(home(dev, other))


def favourites(node: FedNode, user: User, uri: str) -> int | None:
    found = seen(node, user, uri)
    return None if found is None else int(found["favourites_count"])


def count_everywhere(views: list[tuple[FedNode, User]], uri: str, count: int) -> None:
    """Wait until every (node, viewer) shows `count` favourites of `uri`."""
    for node, user in views:
        wait_for(
            functools.partial(lambda n, u: favourites(n, u, uri) == count, node, user),
            f"{count} favourites of {uri} on {node.host}",
        )


def test_likes_travel_through_the_group(net: Network) -> None:
    dev, hq, sales = net["dev"], net["hq"], net["sales"]
    owner = dev.create_user("lowner")
    hb, outsider = hq.create_user("hb"), hq.create_user("lout")
    sb = sales.create_user("sb")
    name = new_group(dev, owner, "--visibility", "members")
    on_hq, on_sales = group_on(hq, hb, dev, name), group_on(sales, sb, dev, name)
    join(hq, hb, on_hq["id"])
    join(sales, sb, on_sales["id"])
    wait_for(lambda: is_member(hq, hb, on_hq["id"]), "hb joining")
    wait_for(lambda: is_member(sales, sb, on_sales["id"]), "sb joining")

    sent = post(hq, hb, f"@{name}@{dev.domain} who likes the launch plan?")
    on_sales_copy = arrives(sales, sb, sent["uri"])
    arrives(dev, owner, sent["uri"])

    # A member on sales favourites it: counted on all three nodes, the author is notified.
    answer = sales.api(sb, "POST", f"/api/v1/statuses/{on_sales_copy['id']}/favourite")
    assert answer.status_code == 200, answer.text
    assert answer.json()["favourited"] is True
    assert answer.json()["favourites_count"] == 1
    wait_for(lambda: notified(hq, hb, "favourite", sales.handle(sb), sent["uri"]), "the like")
    count_everywhere([(hq, hb), (dev, owner), (sales, sb)], sent["uri"], 1)

    # Unfavouriting travels the same way.
    answer = sales.api(sb, "POST", f"/api/v1/statuses/{on_sales_copy['id']}/unfavourite")
    assert answer.status_code == 200, answer.text
    assert answer.json()["favourites_count"] == 0
    count_everywhere([(hq, hb), (dev, owner), (sales, sb)], sent["uri"], 0)
    assert not notified(hq, hb, "favourite", sales.handle(sb), sent["uri"])

    # A non-member cannot like a members-only post: it is not there for them.
    answer = hq.api(outsider, "POST", f"/api/v1/statuses/{sent['id']}/favourite")
    assert answer.status_code == 404
    # The owner on dev likes it (the group's own node relays at once); the count shows that
    # the refused like changed nothing.
    on_dev = seen(dev, owner, sent["uri"])
    assert on_dev is not None
    answer = dev.api(owner, "POST", f"/api/v1/statuses/{on_dev['id']}/favourite")
    assert answer.status_code == 200, answer.text
    wait_for(lambda: notified(hq, hb, "favourite", dev.handle(owner), sent["uri"]), "dev's like")
    count_everywhere([(hq, hb), (dev, owner), (sales, sb)], sent["uri"], 1)


def _id(node: FedNode, user: User) -> str:
    return str(node.api(user, "GET", "/api/v1/accounts/verify_credentials").json()["id"])
