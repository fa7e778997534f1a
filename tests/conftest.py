"""Shared fixtures: one running node per database backend for the whole session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.kit import RunningNode, User, running_node

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
