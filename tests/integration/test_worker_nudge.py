"""Workers take jobs when a web process nudges them, not only when they poll.

hq and sales are scaled out (`serve --workers 2` plus `flurfunk worker`, PostgreSQL and a
redis-server of the test's own) with polling and sweeps turned nearly off: a worker looks
for jobs once an hour and sweeps once an hour. A follow across the nodes and a post still
arrive, so each hop — the Follow, its Accept, the Create — was taken because the web process
that queued it nudged the workers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.federation_kit import Network, Plan, arrives, follows, post
from tests.scale_kit import OwnRedis, scaled_network

pytestmark = pytest.mark.postgres

HOUR = {"FLURFUNK_WORKER_POLL_MS": "3600000", "FLURFUNK_WORKER_SWEEP_SECONDS": "3600"}


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    plans = {"hq": Plan(allow=("sales",), env=HOUR), "sales": Plan(allow=("hq",), env=HOUR)}
    with OwnRedis() as redis:
        urls = {"hq": redis.url(1), "sales": redis.url(2)}
        with scaled_network(Path(tmp_path_factory.mktemp("nudged")), plans, urls) as running:
            yield running


def test_a_follow_and_a_post_cross_nodes_without_polling(net: Network) -> None:
    hq, sales = net["hq"], net["sales"]
    anna, bob = hq.create_user("anna"), sales.create_user("bob")
    follows(sales, bob, hq, anna)  # Follow from sales, Accept from hq
    status = post(hq, anna, "Quarterly numbers are in")
    arrives(sales, bob, status["uri"])
