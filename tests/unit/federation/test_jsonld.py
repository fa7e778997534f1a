"""Well-known contexts are read directly; everything else goes through pyld, offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from federation.contexts import CONTEXT_FILES, canonical_url
from federation.jsonld import AS, JsonLdError, is_well_known, normalize

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


# --- what Fedify-based and other servers send ------------------------------------------------

FEDIFY_FOLLOW = json.loads((REAL_WORLD / "fedify_follow_1.json").read_text())
UNKNOWN = "https://unreachable.invalid/ns"


def through_pyld(document: dict[str, Any]) -> dict[str, Any]:
    """The document with an unknown context added, so that it cannot take the fast path."""
    forced = dict(document, **{"@context": [*document["@context"], UNKNOWN]})
    assert not is_well_known(forced)
    return forced


def test_a_fedify_follow_is_understood_with_its_signature_and_proof() -> None:
    for document in (FEDIFY_FOLLOW, through_pyld(FEDIFY_FOLLOW)):
        normal = normalize(document)
        assert normal["type"] == "Follow"
        assert normal["actor"] == "http://localhost:39805/users/fed"
        assert normal["object"] == "http://localhost:41419/users/alice"
        assert normal["to"] == "http://localhost:41419/users/alice"


def test_identity_after_activitystreams_redefines_name_so_pyld_decides() -> None:
    document = {
        "@context": [AS, "https://w3id.org/identity/v1"],
        "id": "https://sales.flurfunk.test/notes/3",
        "type": "Note",
        "name": "a schema.org name, not an ActivityStreams one",
    }
    assert not is_well_known(document)
    assert "name" not in normalize(document)


@pytest.mark.parametrize("url", sorted(CONTEXT_FILES))
def test_every_bundled_context_is_valid_json_ld_and_combines_with_activitystreams(
    url: str,
) -> None:
    document = {
        "@context": [url, AS, UNKNOWN],
        "id": "https://sales.flurfunk.test/notes/4",
        "type": "Note",
        "content": "hello",
    }
    assert normalize(document)["content"] == "hello"


def test_pleroma_litepub_context_from_any_host_is_served_offline() -> None:
    document = {
        "@context": [
            AS,
            "https://pleroma.example/schemas/litepub-0.1.jsonld",
            {"@language": "und"},
        ],
        "id": "https://sales.flurfunk.test/notes/5",
        "type": "Note",
        "summary": "a content warning",
        "directMessage": False,
    }
    assert canonical_url(document["@context"][1]) in CONTEXT_FILES
    assert normalize(document)["summary"] == "a content warning"


def test_a_proof_with_an_unknown_or_broken_context_costs_nothing() -> None:
    for nested in (["https://unreachable.invalid/proof"], {"@version": 7}, {"proofValue": 1}):
        document = through_pyld(FEDIFY_FOLLOW)
        document["proof"] = dict(FEDIFY_FOLLOW["proof"], **{"@context": nested})
        document["signature"] = dict(FEDIFY_FOLLOW["signature"], **{"@context": nested})
        normal = normalize(document)
        assert (normal["type"], normal["object"]) == (
            "Follow",
            "http://localhost:41419/users/alice",
        )


def test_a_broken_nested_context_costs_only_its_term() -> None:
    document = {
        "@context": [AS, UNKNOWN],
        "id": "https://sales.flurfunk.test/notes/6",
        "type": "Note",
        "content": "hello",
        "tag": [
            {"@context": {"@version": 7}, "type": "Hashtag", "name": "#broken"},
            {"type": "Mention", "href": "https://sales.flurfunk.test/users/bob", "name": "@bob"},
            {"@context": AS, "type": "Hashtag", "name": "#fine"},
        ],
        "attachment": {"@context": {"@version": 7}, "type": "Document", "url": "x"},
    }
    normal = normalize(document)
    assert normal["content"] == "hello"
    assert sorted(t["name"] for t in normal["tag"]) == ["#fine", "@bob"]
    assert "attachment" not in normal


def test_a_broken_top_level_context_is_refused() -> None:
    document = {"@context": [AS, {"@version": 7}, UNKNOWN], "type": "Note", "content": "hello"}
    with pytest.raises(JsonLdError):
        normalize(document)


def test_nesting_too_deep_for_processing_is_refused_not_crashed() -> None:
    deep: dict[str, Any] = {"@context": AS, "type": "Note"}
    for _ in range(400):
        deep = {"@context": AS, "type": "Note", "inReplyTo": deep}
    document = {"@context": [AS, UNKNOWN], "type": "Create", "object": deep}
    with pytest.raises(JsonLdError):
        normalize(document)


def test_a_fedify_create_keeps_what_the_inbox_reads() -> None:
    actor = "http://localhost:39805/users/fed"
    note = {
        "id": actor + "/posts/1",
        "type": "Note",
        "attributedTo": actor,
        "content": "<p>hello <a href='http://localhost:41419/users/alice'>@alice</a></p>",
        "summary": "a warning",
        "sensitive": True,
        "inReplyTo": "http://localhost:41419/users/alice/statuses/9",
        "published": "2026-12-06T23:42:12Z",
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "cc": [actor + "/followers"],
        "tag": [{"type": "Mention", "href": "http://localhost:41419/users/alice", "name": "@a"}],
        "attachment": [{"type": "Document", "mediaType": "image/png", "url": actor + "/a.png"}],
    }
    inline = {"toot": "http://joinmastodon.org/ns#", "sensitive": "as:sensitive"}
    create = dict(
        FEDIFY_FOLLOW,
        **{"@context": [*FEDIFY_FOLLOW["@context"], inline]},
        id=actor + "/posts/1#create",
        type="Create",
        object=dict(note, proof=FEDIFY_FOLLOW["proof"]),
        to=note["to"],
        cc=note["cc"],
    )
    for document in (create, through_pyld(create)):
        normal = normalize(document)
        read = normal["object"]
        assert (normal["type"], normal["actor"]) == ("Create", actor)
        for term in ("id", "content", "summary", "sensitive", "inReplyTo", "attributedTo"):
            assert read[term] == note[term], term
        tags = read["tag"] if isinstance(read["tag"], list) else [read["tag"]]
        assert tags[0]["href"] == "http://localhost:41419/users/alice"
        attachments = read["attachment"]
        attachment = attachments[0] if isinstance(attachments, list) else attachments
        assert attachment["url"] == actor + "/a.png"


def test_profile_fields_emoji_and_media_extensions_survive_pyld() -> None:
    actor = "http://localhost:39805/users/fed"
    inline = {
        "toot": "http://joinmastodon.org/ns#",
        "schema": "http://schema.org#",
        "PropertyValue": "schema:PropertyValue",
        "value": "schema:value",
        "Emoji": "toot:Emoji",
        "blurhash": "toot:blurhash",
        "focalPoint": {"@container": "@list", "@id": "toot:focalPoint"},
    }
    person = {
        "@context": [AS, "https://w3id.org/security/v1", "https://www.w3.org/ns/did/v1", inline],
        "id": actor,
        "type": "Person",
        "attachment": [{"type": "PropertyValue", "name": "Team", "value": "Platform"}],
        "tag": [{"type": "Emoji", "name": ":ok:", "icon": {"type": "Image", "url": "x.png"}}],
        "icon": {"type": "Image", "url": "a.png", "blurhash": "LEHV", "focalPoint": [0.5, -0.25]},
    }
    normal = normalize(through_pyld(person))
    field = normal["attachment"]
    assert (field["type"], field["name"], field["value"]) == ("PropertyValue", "Team", "Platform")
    assert normal["tag"]["type"] == "Emoji"
    assert (normal["icon"]["blurhash"], normal["icon"]["focalPoint"]) == ("LEHV", [0.5, -0.25])
