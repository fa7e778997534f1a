"""Shared fixtures: one running node per database backend for the whole session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.kit import RunningNode, User, running_node

# Nodes in tests share one PostgreSQL (100 connections by default) from many processes at once:
# two pytest workers, each with nodes of several processes (`serve --workers 2` and a worker).
# Smaller pools than production's keep them all under the server's limit; a busy node waits a
# moment for a connection instead. Every node a test starts inherits this environment.
os.environ.setdefault("FLURFUNK_DB_POOL_SIZE", "6")
os.environ.setdefault("FLURFUNK_DB_POOL_OVERFLOW", "4")

BACKENDS = ["sqlite", "postgres"]

# Property tests judge results, never speed: a loaded CI machine must not fail them for being slow.
settings.register_profile(
    "flurfunk", deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)
settings.load_profile("flurfunk")


@pytest.fixture(scope="session", params=BACKENDS)
def node(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningNode]:
    """A real `flurfunk serve` on loopback, once on SQLite and once on PostgreSQL."""
    backend: str = request.param
    tmp: Path = tmp_path_factory.mktemp(backend)
    with running_node(tmp, backend) as running:
        yield running


@pytest.fixture
def alice(node: RunningNode) -> User:
    return node.create_user("alice")


@pytest.fixture
def bob(node: RunningNode) -> User:
    return node.create_user("bob")
