"""Browser fixtures: the node under test (SQLite), a second real node it federates with, a
fake remote node for hostile input, and one Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.browser.kit import chromium_path, launch
from tests.federation_kit import FakeActor, FedNode, Plan, network, peer_in_thread
from tests.kit import User
from tests.peer import FakePeer

REMOTE_HOST = "sales.flurfunk.test"


@dataclass
class Site:
    """The node under test, a colleague node (a real one) and a fake remote node."""

    node: FedNode
    other: FedNode
    peer: FakePeer

    @property
    def remote_host(self) -> str:
        return f"{REMOTE_HOST}:{self.peer.port}"

    def remote_actor(self, name: str) -> FakeActor:
        actor = FakeActor.generate(self.remote_host, name)
        actor.publish(self.peer)
        return actor


@pytest.fixture(scope="session")
def chromium() -> str:
    """The system Chromium; fails (CI) or skips before any node starts."""
    return chromium_path()


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Browser]:
    """One Chromium per test module. Not per session: Playwright's sync API keeps an event
    loop running in the main thread while it is started, and the async tests of the other
    folders (pytest-asyncio) cannot run their own loop until it has stopped."""
    with sync_playwright() as playwright:
        launched = launch(playwright)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def site(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp: Path = tmp_path_factory.mktemp("browser")
    with peer_in_thread() as peer:
        host = f"{REMOTE_HOST}:{peer.port}"
        plans = {
            "hq": Plan(allow=(host, "sales"), stand_ins={host: peer.port}),
            "sales": Plan(allow=("hq",)),
        }
        with network(tmp, "sqlite", plans) as net:
            yield Site(net["hq"], net["sales"], peer)


@pytest.fixture
def alice(site: Site) -> User:
    return site.node.create_user("alice")


@pytest.fixture
def bob(site: Site) -> User:
    return site.node.create_user("bob")


@pytest.fixture
def admin(site: Site) -> User:
    user = site.node.create_user("boss")
    site.node.cli("user", "role", user.name, "admin")
    return user
