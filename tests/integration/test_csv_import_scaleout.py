"""A CSV import on a node scaled out (`serve --workers 2` plus `flurfunk worker`, on PostgreSQL
and a Redis server of the test's own): the web processes only store the import, a worker
applies it, and the follows appear."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from outbox.periodic import INTERVAL
from tests.federation_kit import Plan
from tests.integration.test_your_data import (
    flashed,
    imported,
    relationship,
    signed_in,
    upload,
)
from tests.scale_kit import OwnRedis, ScaledNode, scaled, scaled_network

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def hq(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaledNode]:
    with OwnRedis() as redis:
        plans = {"hq": Plan()}
        tmp = Path(tmp_path_factory.mktemp("imports"))
        with scaled_network(tmp, plans, {"hq": redis.url(1)}) as running:
            yield scaled(running, "hq")


def newest_import(browser: httpx.Client) -> tuple[str, str]:
    """The state and the line of the newest import on the page."""
    found = re.search(
        r'<ul class="imports" id="imports">\s*<li class="import-(\w+)">(.*?)</li>',
        browser.get("/settings/data").text,
        re.S,
    )
    assert found is not None
    return found.group(1), " ".join(found.group(2).split())


def test_a_worker_applies_a_follows_import_uploaded_to_a_web_process(hq: ScaledNode) -> None:
    ann, friend, colleague = (hq.create_user(p) for p in ("ann", "friend", "colleague"))
    hq.stop_workers()
    try:
        with signed_in(hq, ann) as browser:
            following = (
                "Account address,Show boosts,Notify on new posts,Languages\n"
                f"{friend.name},false,true,\n"
                f"{colleague.name}@{hq.domain},true,false,\n"
                "nobody,true,false,\n"
            )
            assert flashed(browser, upload(browser, "following", following)) == (
                "Import started: 3 rows."
            )
            # Longer than an embedded node takes to start an import: with Redis the web
            # processes leave it to the workers, and none runs.
            time.sleep(INTERVAL + 1)
            state, line = newest_import(browser)
            assert state == "queued", line
            assert "waiting to start (3 rows)" in line
            assert not relationship(hq, ann, friend)["following"]

            hq.start_worker()
            done = imported(browser)
    except AssertionError:
        print(hq.worker_tail())
        raise
    assert "Imported 2 of 3 rows." in done
    assert "Not found: nobody" in done
    followed = relationship(hq, ann, friend)
    assert followed["following"]
    assert followed["showing_reblogs"] is False
    assert followed["notifying"] is True
    other = relationship(hq, ann, colleague)
    assert other["following"]
    assert other["showing_reblogs"] is True
    assert other["notifying"] is False
