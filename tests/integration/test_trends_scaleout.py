"""Trends on a node scaled out (`serve --workers 2` and two `flurfunk worker`s on PostgreSQL
and Redis): the workers compute them — once per interval for the whole node, never once per
process."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import datetime

import pytest

from tests.federation_kit import Network, Plan, network, post, wait_for
from tests.scale_kit import SHARED_REDIS, ScaledNode, fresh_redis, scaled

pytestmark = pytest.mark.postgres

INTERVAL = 2
RUN = re.compile(r"trends computed: \d+ items, run of (\S+?)[\"\s]")


class TalkativeNode(ScaledNode):
    """Web processes that log at info level, so that a computation there would show."""

    log_level: str = "info"


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    redis = f"{SHARED_REDIS}/12"
    fresh_redis(redis)
    env = {"FLURFUNK_TRENDS_INTERVAL": str(INTERVAL), "FLURFUNK_REDIS_URL": redis}
    plans = {"hq": Plan(env=env)}
    tmp = tmp_path_factory.mktemp("trends-scaled")
    with network(tmp, "postgres", plans, kind=TalkativeNode) as running:
        yield running


def test_workers_compute_the_trends_once_per_interval_for_the_node(net: Network) -> None:
    hq = scaled(net, "hq")
    hq.start_worker()  # two workers, each with the trends timer
    ada, ben = hq.create_user("ada"), hq.create_user("ben")
    post(hq, ada, "#scaleout is live")
    post(hq, ben, "#scaleout works")

    def trending() -> list[str] | None:
        names = [t["name"] for t in hq.api(ada, "GET", "/api/v1/trends/tags").json()]
        return names if "scaleout" in names else None

    try:
        wait_for(trending, "scaleout trending on the scaled-out node")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{hq.worker_tail()}") from None

    def runs() -> list[datetime] | None:
        # Web processes (serve.log) must not compute at all; the runs come from the workers.
        assert not RUN.findall(hq.log_path.read_text()), hq.log_tail()
        text = (hq.data_dir / "worker.log").read_text()
        found = sorted(datetime.fromisoformat(m) for m in RUN.findall(text))
        return found if len(found) >= 4 else None

    found = wait_for(runs, "four computations logged by the workers", timeout=60)
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(found)]
    # Each run claims its interval in the database (0.9 of it, for timer jitter): two
    # workers never both compute within one.
    assert min(gaps) >= INTERVAL * 0.9, (gaps, hq.worker_tail())
