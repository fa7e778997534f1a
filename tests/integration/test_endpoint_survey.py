"""Every endpoint that two or more of the surveyed apps call (tests/data/endpoint-survey.txt,
from the sources of Tusky, Ice Cubes, Elk, Phanpy, Mastodon for Android, megalodon and
Mastodon.py) is routed for its method, and answers a real call without a 405 or a 5xx: it does
its job or refuses honestly (404 `Record not found` for a record that is not there, another
4xx with a reason)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.routing import Match

from tests.kit import RunningNode, User
from web.routes import routes

SURVEY = Path(__file__).parent.parent / "data" / "endpoint-survey.txt"
LINE = re.compile(r"^(?:yes|NO|405)\s+(?P<apps>\d+)\s+\S+\s+(?P<method>[A-Z]+)\s+(?P<path>/\S+)")
UNKNOWN_ID = "1"  # no row has this id: time-ordered ids are far larger


def surveyed(minimum_apps: int = 2) -> list[tuple[str, str]]:
    found = []
    for line in SURVEY.read_text().splitlines():
        m = LINE.match(line)
        if m and int(m["apps"]) >= minimum_apps:
            found.append((m["method"], m["path"]))
    return found


ENDPOINTS = surveyed()


def test_the_survey_is_read() -> None:
    assert len(ENDPOINTS) > 150
    assert ("GET", "/api/v2/notifications") in ENDPOINTS


@pytest.mark.parametrize(("method", "path"), ENDPOINTS, ids=[f"{m} {p}" for m, p in ENDPOINTS])
def test_routed(method: str, path: str) -> None:
    """A route takes the path with this method (the node's own router, not a guess)."""
    scope = {"type": "http", "method": method, "path": path.replace("{id}", UNKNOWN_ID)}
    matches = [route.matches(scope)[0] for route in routes()]
    assert Match.FULL in matches, f"{method} {path}: " + (
        "405, wrong method" if Match.PARTIAL in matches else "no route"
    )


@pytest.fixture(scope="module")
def caller(node: RunningNode) -> User:
    return node.create_user("surveyor")


# Streams stay open; the streaming tests call them with clients that read events.
CALLED = [(m, p) for m, p in ENDPOINTS if not p.startswith("/api/v1/streaming")]


@pytest.mark.parametrize(("method", "path"), CALLED, ids=[f"{m} {p}" for m, p in CALLED])
def test_answers_without_405_or_5xx(
    node: RunningNode, caller: User, method: str, path: str
) -> None:
    response = node.api(caller, method, path.replace("{id}", UNKNOWN_ID))
    assert response.status_code != 405, response.text
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body.get("error"), str), body
        assert body["error"], body
        if response.status_code == 404:
            assert body == {"error": "Record not found"}
