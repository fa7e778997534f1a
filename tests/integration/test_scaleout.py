"""A node scaled out: `serve --workers 2` plus `flurfunk worker`, on PostgreSQL and Redis.

hq and sales run as operators scale them out, each on its own PostgreSQL database and Redis
database. The federation flows of tests/integration/test_federation_flows.py run on them
unchanged; then a worker dies with SIGKILL in the middle of a batch, and Redis restarts under
running nodes — and every delivery still arrives, once.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from models.db import Database
from models.migrate import schema_problem
from tests.federation_kit import (
    Network,
    Plan,
    arrives,
    delivery_summary,
    follows,
    home,
    notified,
    pending,
    post,
    remote_account,
    wait_for,
)
from tests.integration import test_federation_flows as flows
from tests.kit import FLURFUNK, postgres_database
from tests.scale_kit import SHARED_REDIS, OwnRedis, SlowLink, scaled, scaled_network

pytestmark = pytest.mark.postgres

LEASE = 5  # CLAIM_LEASE_SECONDS on hq: what a killed worker held is sent again after this
FLOWS: list[Callable[[Network], None]] = [
    flows.test_remote_accounts_resolve_through_search_and_lookup,
    flows._follow_post_unfollow,
    flows.test_locked_account_authorizes_and_rejects,
    flows.test_replies_mention_and_thread_on_both_nodes,
    flows.test_direct_message_reaches_only_its_recipient,
    flows.test_favourites_and_boosts_count_on_the_origin,
    flows.test_edit_reaches_followers_with_its_history,
    flows.test_delete_removes_the_remote_copy,
    flows.test_block_ends_the_follow_and_what_follows_it,
]


@pytest.fixture(scope="module")
def link() -> Iterator[SlowLink]:
    """hq reaches sales through this link; it is fast until a test slows it down."""
    with SlowLink() as relay:
        yield relay


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory, link: SlowLink) -> Iterator[Network]:
    plans = {
        "hq": Plan(
            allow=("sales",),
            stand_ins={"sales": link.port},
            env={"FLURFUNK_CLAIM_LEASE_SECONDS": str(LEASE)},
        ),
        "sales": Plan(allow=("hq",)),
    }
    redis = {"hq": f"{SHARED_REDIS}/6", "sales": f"{SHARED_REDIS}/7"}
    with scaled_network(tmp_path_factory.mktemp("scaled"), plans, redis) as running:
        link.upstream = running["sales"].port
        yield running


@pytest.mark.parametrize("flow", FLOWS, ids=lambda f: f.__name__.removeprefix("test_").strip("_"))
def test_federation_flows_on_scaled_out_nodes(
    net: Network, flow: Callable[[Network], None]
) -> None:
    flow(net)


def test_a_worker_killed_mid_batch_leaves_every_delivery_done_once(
    net: Network, link: SlowLink
) -> None:
    hq, sales = scaled(net, "hq"), scaled(net, "sales")
    ada, bo = hq.create_user("ada"), sales.create_user("bo")
    follows(sales, bo, hq, ada)
    bo_on_hq = remote_account(hq, ada, sales, bo)

    hq.stop_workers()  # the posts' deliveries wait in one batch for the next worker
    sent = [post(hq, ada, f"@{bo_on_hq['acct']} figures, part {n}") for n in range(30)]
    link.delay = 1.0
    try:
        hq.start_worker()
        wait_for(lambda: link.held > 0, "deliveries on their way to sales")
        hq.kill_workers()
    finally:
        link.delay = 0.0
    assert pending(hq, sales.host) > 0  # claimed by the dead worker, not recorded as done
    hq.start_worker()
    extra = hq.start_worker()  # two workers compete for what the dead one left

    expected = sorted(s["uri"] for s in sent)
    mentions = wait_for(
        lambda: (
            (found := notified(sales, bo, "mention", hq.handle(ada)))
            and len(found) >= len(sent)
            and found
        ),
        "a mention notification on sales for each post",
        timeout=LEASE + 40,
    )
    assert sorted(n["status"]["uri"] for n in mentions) == expected
    timeline = [s["uri"] for s in home(sales, bo) if s["account"]["acct"] == hq.handle(ada)]
    assert sorted(timeline) == expected
    wait_for(lambda: pending(hq, sales.host) == 0, "hq's deliveries to sales all done")
    assert delivery_summary(hq, sales.host).get("failed", "0") == "0"
    extra.terminate()
    assert extra.wait(timeout=30) == 0
    hq.workers.remove(extra)


def test_the_workers_publish_scheduled_statuses(net: Network) -> None:
    hq, sales = scaled(net, "hq"), scaled(net, "sales")
    ada, bo = hq.create_user("ada"), sales.create_user("bo")
    follows(sales, bo, hq, ada)
    later = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
    scheduled = hq.api(
        ada, "POST", "/api/v1/statuses", json={"status": "Scheduled news", "scheduled_at": later}
    )
    assert scheduled.status_code == 200, scheduled.text
    # Ten minutes pass in the database: the worker's sweep finds the status due.
    asyncio.run(_sql(hq.database_url, "UPDATE scheduled_statuses SET scheduled_at = now()"))
    posted = wait_for(
        lambda: [s for s in home(hq, ada) if "Scheduled news" in s["content"]],
        "the scheduled status posted on hq",
    )
    arrives(sales, bo, posted[0]["uri"])
    assert hq.api(ada, "GET", "/api/v1/scheduled_statuses").json() == []


async def _sql(url: str, statement: str) -> None:
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def test_work_goes_on_while_redis_restarts(tmp_path: Path) -> None:
    plans = {"hq": Plan(allow=("sales",)), "sales": Plan(allow=("hq",))}
    with (
        OwnRedis() as own,
        scaled_network(tmp_path, plans, {"hq": own.url(6), "sales": own.url(7)}) as running,
    ):
        hq, sales = scaled(running, "hq"), scaled(running, "sales")
        ada, bo = hq.create_user("ada"), sales.create_user("bo")
        follows(sales, bo, hq, ada)
        arrives(sales, bo, post(hq, ada, "Before the Redis restart")["uri"])

        own.stop()
        during = post(hq, ada, "While Redis is away")  # the request does not need Redis
        arrives(sales, bo, during["uri"])  # the workers' sweeps carry on without jobs
        own.start()  # empty: every job queued before is gone

        for node in (hq, sales):
            wait_for(node.worker_connected, f"{node.host}'s worker taking jobs again")
        after = post(hq, ada, "After the Redis restart")
        arrives(sales, bo, after["uri"])
        answer = post(sales, bo, f"@{hq.handle(ada)} got all three")
        wait_for(
            lambda: notified(hq, ada, "mention", sales.handle(bo), answer["uri"]),
            "bo's answer on hq",
        )
        for node in (hq, sales):
            wait_for(lambda n=node: n.jobs_queued() == 0, f"{node.host}'s jobs all taken")
            assert [w.poll() for w in node.workers] == [None], node.worker_tail()
            assert node.stop_workers() == [0], node.worker_tail()  # SIGTERM: a clean stop


def _flurfunk(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FLURFUNK, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_scale_out_refuses_what_cannot_work(tmp_path: Path) -> None:
    base = {"FLURFUNK_DATA_DIR": str(tmp_path), "FLURFUNK_CONFIG": str(tmp_path / "none.toml")}
    redis = {"FLURFUNK_REDIS_URL": f"{SHARED_REDIS}/8"}

    sqlite = _flurfunk({**base, **redis}, "serve", "--workers", "2")
    assert sqlite.returncode == 2
    assert "needs PostgreSQL" in sqlite.stderr

    alone = _flurfunk(base, "worker")
    assert alone.returncode == 2
    assert "FLURFUNK_REDIS_URL" in alone.stderr

    with postgres_database() as url:
        on_pg = {**base, "FLURFUNK_DATABASE_URL": url}
        no_redis = _flurfunk(on_pg, "serve", "--workers", "2")
        assert no_redis.returncode == 2
        assert "needs FLURFUNK_REDIS_URL" in no_redis.stderr
        for command in (["serve"], ["worker"]):
            unmigrated = _flurfunk({**on_pg, **redis}, *command)
            assert unmigrated.returncode == 2, unmigrated.stderr
            assert "run `flurfunk migrate` first" in unmigrated.stderr
        for _ in range(2):  # idempotent
            migrated = _flurfunk(on_pg, "migrate")
            assert migrated.returncode == 0, migrated.stderr
            assert "up to date" in migrated.stdout

        asyncio.run(_sql(url, "UPDATE alembic_version SET version_num = '0001'"))
        behind = _flurfunk({**on_pg, **redis}, "worker")
        assert behind.returncode == 2
        assert "schema is behind" in behind.stderr
        # Migrated by a newer version while this one still runs: it serves on.
        asyncio.run(_sql(url, "UPDATE alembic_version SET version_num = 'from-a-later-version'"))
        assert asyncio.run(_schema_problem(url)) is None


async def _schema_problem(url: str) -> str | None:
    db = Database(url)
    try:
        return await schema_problem(db)
    finally:
        await db.dispose()
