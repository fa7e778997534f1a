"""Nothing is lost and nothing arrives twice: a receiver that is down for a while, and a sender
killed (SIGKILL) with deliveries still pending, between two real nodes.

The rows in the sender's database are the truth; `flurfunk deliveries` shows them, and the
tests wait until every first attempt has failed before they pull the plug. (Rows in flight
when a process dies: tests/integration/test_crash_claims.py.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy import func, or_, select

from models.db import Database
from models.federation import Delivery, OutboxActivity
from tests.federation_kit import (
    FedNode,
    Network,
    Plan,
    arrives,
    by_uri,
    delivery_summary,
    follows,
    home,
    network,
    notified,
    pending,
    post,
    wait_for,
)
from tests.kit import User

# A retry comes ~5 s after the first failure (DESIGN §2), later ones at 10 s, 20 s, ...
RETRY_WAIT = 40.0


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    plans = {"hq": Plan(allow=("sales",)), "sales": Plan(allow=("hq",))}
    with network(tmp_path_factory.mktemp("resilience"), "sqlite", plans) as running:
        yield running


def retrying(sender: FedNode, receiver: FedNode, count: int) -> None:
    """Wait until `count` deliveries to `receiver` have failed once and wait for their retry."""
    wait_for(
        lambda: int(delivery_summary(sender, receiver.host).get("retrying", "0")) >= count,
        f"{count} deliveries to {receiver.host} failing while it is down",
    )


def exactly_once(node: FedNode, user: User, uris: list[str]) -> None:
    for uri in uris:
        arrives(node, user, uri)
    timeline = [s["uri"] for s in home(node, user)]
    assert sorted(u for u in timeline if u in uris) == sorted(uris)


def test_a_receiver_that_was_down_gets_everything_after_it_returns(net: Network) -> None:
    hq, sales = net["hq"], net["sales"]
    ada, bo = hq.create_user("ada"), sales.create_user("bo")
    follows(sales, bo, hq, ada)

    sales.stop()
    sent = [post(hq, ada, f"Sent while sales is down, part {i}")["uri"] for i in range(3)]
    retrying(hq, sales, 3)
    sales.start()

    wait_for(lambda: in_home_all(sales, bo, sent), "every post after sales is back", RETRY_WAIT)
    exactly_once(sales, bo, sent)
    wait_for(lambda: pending(hq, sales.host) == 0, "hq's deliveries to sales all done")


def in_home_all(node: FedNode, user: User, uris: list[str]) -> bool:
    timeline = {s["uri"] for s in home(node, user)}
    return all(u in timeline for u in uris)


def test_a_sender_killed_with_pending_deliveries_delivers_each_once(net: Network) -> None:
    hq, sales = net["hq"], net["sales"]
    ada, bo = hq.create_user("ada"), sales.create_user("bo")
    follows(sales, bo, hq, ada)

    sales.stop()
    sent = [post(hq, ada, f"Before the crash, part {i}")["uri"] for i in range(3)]
    sent.append(post(hq, ada, f"@{sales.handle(bo)} this one is for you")["uri"])
    retrying(hq, sales, 4)
    hq.kill()
    sales.start()
    hq.start()

    wait_for(lambda: in_home_all(sales, bo, sent), "every post after the restart", RETRY_WAIT)
    exactly_once(sales, bo, sent)
    assert len(notified(sales, bo, "mention", hq.handle(ada), sent[-1])) == 1
    wait_for(lambda: pending(hq, sales.host) == 0, "hq's deliveries to sales all done")
    assert delivery_summary(hq, sales.host).get("failed", "0") == "0"


def test_a_post_deleted_before_its_node_could_deliver_it_never_arrives(net: Network) -> None:
    """The waiting Create is withdrawn; the Delete goes all the same (a Create tried before
    may have arrived unanswered) and, retried together with the other post's Create after
    the receiver's return, it changes nothing there: the deleted post never shows."""
    hq, sales = net["hq"], net["sales"]
    ada, bo = hq.create_user("ada"), sales.create_user("bo")
    follows(sales, bo, hq, ada)

    sales.stop()
    gone = post(hq, ada, f"@{sales.handle(bo)} posted and deleted while sales is down")
    kept = post(hq, ada, "This one stays")
    retrying(hq, sales, 2)
    deleted = hq.api(ada, "DELETE", f"/api/v1/statuses/{gone['id']}")
    assert deleted.status_code == 200, deleted.text
    # The deleted post's Create is withdrawn: the kept post and the Delete wait for sales.
    assert pending(hq, sales.host) == 2
    sales.start()

    wait_for(lambda: in_home_all(sales, bo, [kept["uri"]]), "the kept post", RETRY_WAIT)
    wait_for(lambda: pending(hq, sales.host) == 0, "hq's deliveries to sales all done")
    assert gone["uri"] not in {s["uri"] for s in home(sales, bo)}
    assert not notified(sales, bo, "mention", hq.handle(ada))
    assert delivery_summary(hq, sales.host).get("failed", "0") == "0"


def test_a_post_edited_while_its_follower_is_down_arrives_edited_once(net: Network) -> None:
    """The Create and the Update wait together and are retried together after the receiver's
    return, in no particular order: whichever arrives first, the follower sees the edit."""
    hq, sales = net["hq"], net["sales"]
    ada, bo = hq.create_user("ada"), sales.create_user("bo")
    follows(sales, bo, hq, ada)

    sales.kill()
    posted = [post(hq, ada, f"First draft, part {i}") for i in range(4)]
    # The Creates back off further than the Updates will: after the return, the Updates
    # are retried first (without the fix, they were dropped and the Creates kept the draft).
    wait_for(lambda: create_attempts(hq, sales) >= 3, "the Creates failing thrice", RETRY_WAIT)
    for i, p in enumerate(posted):
        edited = hq.api(ada, "PUT", f"/api/v1/statuses/{p['id']}", json={"status": f"Final {i}"})
        assert edited.status_code == 200, edited.text
    retrying(hq, sales, 2 * len(posted))
    sales.start()

    uris = [p["uri"] for p in posted]
    wait_for(lambda: in_home_all(sales, bo, uris), "every post after sales is back", RETRY_WAIT)
    wait_for(lambda: pending(hq, sales.host) == 0, "hq's deliveries to sales all done")
    exactly_once(sales, bo, uris)
    timeline = home(sales, bo)
    for i, uri in enumerate(uris):
        seen_there = by_uri(timeline, uri)
        assert seen_there is not None
        assert f"Final {i}" in seen_there["content"], seen_there["content"]
        assert "First draft" not in seen_there["content"], seen_there["content"]


def create_attempts(sender: FedNode, receiver: FedNode) -> int:
    """The fewest attempts among the Creates that `sender` has still to deliver to `receiver`."""

    async def read() -> int:
        db = Database(sender.database_url, pool_size=1)
        try:
            async with db.read() as session:
                fewest = await session.scalar(
                    select(func.min(Delivery.attempts))
                    .join(OutboxActivity, OutboxActivity.id == Delivery.activity_id)
                    .where(
                        OutboxActivity.type == "Create",
                        or_(
                            Delivery.host == receiver.host,
                            Delivery.host.startswith(receiver.host + ":"),
                        ),
                        Delivery.state == "pending",
                    )
                )
                return int(fewest or 0)
        finally:
            await db.dispose()

    return asyncio.run(read())
