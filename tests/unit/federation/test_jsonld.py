"""Well-known contexts are read directly; everything else goes through pyld, offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from federation.jsonld import AS, is_well_known, normalize

REAL_WORLD = Path(__file__).parents[2] / "data" / "real-world"
FIXTURES = sorted(REAL_WORLD.glob("*.json"))


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_real_world_activities_normalise_with_their_type_and_actor(path: Path) -> None:
    document = json.loads(path.read_text())
    normal = normalize(document)
    assert normal["type"] == document["type"]
    assert normal.get("actor", normal.get("attributedTo")) == document.get(
        "actor", document.get("attributedTo")
    )


def test_mastodon_contexts_take_the_fast_path() -> None:
    for name in ("mastodon_flow_1_create_note", "mitra_follow", "buffalo_create_note_1"):
        document = json.loads((REAL_WORLD / f"{name}.json").read_text())
        assert is_well_known(document), name
        assert normalize(document) is document


def test_redefining_a_term_we_read_goes_through_pyld() -> None:
    document = {
        "@context": [AS, {"body": "as:content", "content": "http://example.org/ns#other"}],
        "id": "https://sales.flurfunk.test/notes/1",
        "type": "Note",
        "body": "the real content",
        "content": "something else entirely",
    }
    assert not is_well_known(document)
    normal = normalize(document)
    assert normal["content"] == "the real content"
    assert "body" not in normal


def test_unknown_context_urls_are_never_fetched() -> None:
    document = {
        "@context": [AS, "https://unreachable.invalid/context.jsonld"],
        "id": "https://sales.flurfunk.test/notes/2",
        "type": "Note",
        "content": "hello",
    }
    normal = normalize(document)  # would raise if pyld tried the network
    assert normal["content"] == "hello"
    assert normal["id"] == "https://sales.flurfunk.test/notes/2"
