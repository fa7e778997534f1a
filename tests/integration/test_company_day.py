"""A company day in half a minute: three nodes, their staff posting, replying, favouriting,
boosting, writing direct messages and group posts, attaching media, following and unfollowing,
editing and deleting, while one node is killed (SIGKILL) and restarted. Afterwards every write
is where it should be on every node, exactly once, and no request was answered with a 5xx.

The ten-node version with its figures is bench/company.py (`make bench-company`).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.company_kit import (
    Day,
    account,
    company_network,
    group_for,
    seed_company,
    watch_streams,
)

NODES = ["hq", "sales", "dev"]
VICTIM = "sales"


def test_company_day_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    with company_network(tmp_path, NODES) as net:
        company = seed_company(net, staff=30, follows_each=5)
        group_for(company, "hq", members=6)
        day = Day(company, duration=30, peak=6, outage=(10, 8), victim=VICTIM, min_writes=100)
        victim = net[VICTIM]
        streaming = company.people[::10]

        async def run() -> None:
            streams = watch_streams(company, streaming, day.ledger)
            try:
                await streams.start(connected_within=60)
                await day.run(kill=victim.kill, restart=victim.start)
            finally:
                await streams.stop()

        asyncio.run(run())
        ledger = day.ledger
        assert day.outage_at is not None, "the node was not killed and restarted"
        assert sum(ledger.writes.values()) >= 100, ledger.writes
        # No 5xx. A write left without an answer (a timeout on a busy machine) is not judged.
        assert not ledger.server_errors, "\n".join(ledger.server_errors)
        result = account(company, ledger, timeout=300)
        assert result.checked_homes == len(company.people)
        assert result.expected_entries > 0
        assert not result.lost, "\n".join(result.lost)
        assert not result.duplicated, "\n".join(result.duplicated)
        assert not result.unexpected, "\n".join(result.unexpected)
        assert not result.stale, "\n".join(result.stale)
        assert not result.counts, "\n".join(result.counts)
        assert not result.relationships, "\n".join(result.relationships)
