"""The AS2 parser on whatever a remote node may send: a valid result or `Unusable`, never
anything else, and what it keeps is harmless to show (property-based, with Hypothesis)."""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from federation.jsonld import PUBLIC
from inbox.parse import Unusable, actor_fields, authority, markup_free, timestamp, uri_of
from inbox.parse_notes import (
    EARLIEST,
    MAX_ATTACHMENTS,
    MAX_TAGS,
    ParsedNote,
    bounded_time,
    note_fields,
)
from inbox.questions import MAX_OPTIONS, poll_of
from outbox.content import sanitise
from tests.html_safety import assert_harmless_html, assert_plain, elements

# No deadline: tests here must never depend on how fast the machine is.
PROPERTIES = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
HOST = "sales.example"

# --- what a remote node may put in a field ----------------------------------------------------

MARKUP = st.sampled_from(
    [
        "<img src=x onerror=alert(1)>",
        '<a href="javascript:alert(1)">x</a>',
        "<script>alert(1)</script>",
        "&lt;svg onload=alert(1)&gt;",
        "&amp;lt;b&amp;gt;",
        "<p>text</p>",
        '<a href="https://sales.example/x" class="u-url mention">@x</a>',
        "<",
        "&",
        "&#0;",
        ":blobcat:",
        "\x00",
        "]]>",
        "<!--",
    ]
)
HTMLISH = st.lists(st.one_of(MARKUP, st.text(max_size=12)), max_size=6).map("".join)
URIS = st.one_of(
    st.sampled_from(
        [
            f"https://{HOST}/users/bob",
            f"http://{HOST}:8443/users/bob/statuses/1",
            "http://[::1",
            "https://[::1]:99999/x",
            "https://sales.example:0/x",
            "javascript:alert(1)",
            "https://",
            "http://user@sales.example/",
            "http://127.0.0.1:8650/steal.png",
            f"https://{HOST}/" + "a" * 1100,
        ]
    ),
    st.text(max_size=30).map(lambda tail: f"https://{HOST}/{tail}"),
    st.text(max_size=30),
)
TIMES = st.one_of(
    st.sampled_from(
        [
            "2024-05-02T09:00:00Z",
            "9999-12-31T23:59:59Z",
            "0001-01-01T00:00:00Z",
            "2024-05-02T09:00:00+14:00",
            "2024-05-02",
            "yesterday",
            "",
        ]
    ),
    st.datetimes().map(lambda moment: moment.isoformat()),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    HTMLISH,
    URIS,
    TIMES,
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def shapes(broken: bool) -> tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]:
    """Notes and actors: well-formed ones whose every field may carry hostile values, or
    (`broken`) ones where any field may also be any JSON at all."""

    def field(*strategies: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        shaped = st.one_of(*strategies)
        return st.one_of(shaped, JSON) if broken else shaped

    def one_or_many(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.one_of(strategy, st.lists(strategy, max_size=6))

    media = st.fixed_dictionaries(
        {"type": st.sampled_from(["Document", "Image", "Video", "Link", "PropertyValue", 3])},
        optional={
            "url": field(URIS, st.fixed_dictionaries({"href": URIS})),
            "mediaType": field(
                st.sampled_from(["image/png", "video/mp4; codecs=x", "text/html", "<b>/x"])
            ),
            "name": field(HTMLISH),
            "blurhash": field(st.sampled_from(["UBL_:rOpGG-o", '"><img>']), HTMLISH),
            "width": field(st.integers()),
            "height": field(st.integers()),
            "focalPoint": field(st.lists(st.floats(allow_nan=False), max_size=3)),
            "value": field(HTMLISH),
        },
    )
    tags = st.fixed_dictionaries(
        {"type": st.sampled_from(["Hashtag", "Mention", "Emoji", None])},
        optional={"name": field(HTMLISH), "href": field(URIS)},
    )
    options = st.fixed_dictionaries(
        {"type": st.just("Note")},
        optional={
            "name": field(HTMLISH),
            "replies": field(st.fixed_dictionaries({"totalItems": field(st.integers())})),
        },
    )
    addresses = field(one_or_many(st.one_of(st.just(PUBLIC), URIS)))
    notes = st.fixed_dictionaries(
        {
            "type": field(st.sampled_from(["Note", "Article", "Page", "Question"])),
            "id": field(st.just(f"https://{HOST}/users/bob/statuses/1")),
            "attributedTo": field(
                st.just(f"https://{HOST}/users/bob"),
                one_or_many(st.fixed_dictionaries({"type": st.just("Person"), "id": URIS})),
            ),
        },
        optional={
            "content": field(HTMLISH),
            "contentMap": field(st.dictionaries(st.text(max_size=20), HTMLISH, max_size=3)),
            "summary": field(HTMLISH),
            "name": field(HTMLISH),
            "url": field(one_or_many(URIS)),
            "to": addresses,
            "cc": addresses,
            "inReplyTo": field(URIS),
            "published": field(TIMES),
            "updated": field(TIMES),
            "sensitive": JSON,
            "tag": field(one_or_many(tags)),
            "attachment": field(one_or_many(media)),
            "oneOf": field(st.lists(options, max_size=25)),
            "anyOf": field(st.lists(options, max_size=25)),
            "closed": field(TIMES, st.booleans()),
            "endTime": field(TIMES),
            "votersCount": field(st.integers()),
        },
    )
    actors = st.fixed_dictionaries(
        {
            "type": field(st.sampled_from(["Person", "Service", "Group"])),
            "id": field(st.just(f"https://{HOST}/users/bob")),
            "preferredUsername": field(st.just("bob"), HTMLISH),
            "inbox": field(st.just(f"https://{HOST}/users/bob/inbox")),
        },
        optional={
            "name": field(HTMLISH),
            "summary": field(HTMLISH),
            "url": field(one_or_many(URIS)),
            "endpoints": field(st.fixed_dictionaries({"sharedInbox": URIS})),
            "followers": field(URIS),
            "publicKey": field(
                one_or_many(st.fixed_dictionaries({"publicKeyPem": field(st.text())}))
            ),
            "manuallyApprovesFollowers": JSON,
            "discoverable": JSON,
            "attachment": field(st.lists(media, max_size=12)),
            "icon": field(one_or_many(st.fixed_dictionaries({"url": field(URIS)}))),
            "image": field(st.fixed_dictionaries({"url": field(URIS)})),
        },
    )
    return notes, actors


NOTES, ACTORS = shapes(broken=False)
BROKEN_NOTES, BROKEN_ACTORS = shapes(broken=True)


def is_http_uri(value: str | None) -> bool:
    return value is None or (value.startswith(("http://", "https://")) and len(value) <= 1024)


def assert_note_harmless(note: ParsedNote) -> None:
    assert_harmless_html(note.content, "content")
    assert sanitise(note.content) == note.content  # already through the status allowlist
    assert_plain(note.spoiler_text, "spoiler_text")
    assert note.sensitive in (True, False)
    for uri in (note.uri, note.author_uri, note.url, note.in_reply_to):
        assert is_http_uri(uri)
    assert len(note.media) <= MAX_ATTACHMENTS
    assert len(note.hashtags) <= MAX_TAGS
    for media in note.media:
        assert is_http_uri(media.remote_url)
        assert media.type in ("image", "video", "audio", "unknown")
        assert_plain(media.description or "", "description")
        assert media.blurhash is None or not elements(media.blurhash)
        assert not elements(media.content_type)
    for tag in note.hashtags:
        assert re.fullmatch(r"\w{1,255}", tag)
    for moment in (note.published, note.updated):
        assert moment is None or EARLIEST <= moment <= datetime.now(UTC)


# --- properties -----------------------------------------------------------------------------


@PROPERTIES
@given(HTMLISH)
def test_markup_free_leaves_no_markup_even_once_decoded(fragment: str) -> None:
    text = markup_free(fragment)
    assert_plain(text, "markup_free")
    assert markup_free(text) == text


@PROPERTIES
# No lone surrogates: remote text arrives as JSON, and orjson refuses them before parsing.
@given(
    st.text(
        alphabet=st.characters(exclude_characters="<&\x00\r", exclude_categories=("Cs",)),
        max_size=40,
    )
)
def test_text_without_markup_stays_as_it_is(words: str) -> None:
    assert markup_free(words) == words


@PROPERTIES
@given(HTMLISH)
def test_the_status_allowlist_leaves_harmless_html(fragment: str) -> None:
    cleaned = sanitise(fragment)
    assert_harmless_html(cleaned, "sanitise")
    assert sanitise(cleaned) == cleaned


@PROPERTIES
@given(
    st.one_of(NOTES, BROKEN_NOTES),
    st.one_of(st.none(), st.fixed_dictionaries({"to": JSON, "cc": JSON})),
)
def test_notes_parse_to_harmless_columns_or_unusable(
    document: dict[str, Any], activity: dict[str, Any] | None
) -> None:
    try:
        note = note_fields(document, activity=activity)
    except Unusable:
        return
    assert_note_harmless(note)
    assert note.visibility(None) in ("public", "unlisted", "private", "direct")


@PROPERTIES
@given(JSON)
def test_any_json_is_a_note_or_unusable(document: Any) -> None:
    with contextlib.suppress(Unusable):
        assert_note_harmless(note_fields(document))


@PROPERTIES
@given(st.one_of(ACTORS, BROKEN_ACTORS))
def test_actors_parse_to_harmless_columns_or_unusable(document: dict[str, Any]) -> None:
    try:
        fields = actor_fields(document)
    except Unusable:
        return
    # As inbox.parse admits them: `:` for an instance actor named after a node with a port.
    assert re.fullmatch(r"[\w.~:-]{1,64}", fields["username"])
    assert_plain(fields["display_name"], "display_name")
    assert_harmless_html(fields["note"], "note")
    assert sanitise(fields["note"]) == fields["note"]
    assert len(fields["fields"]) <= 8
    for field in fields["fields"]:
        assert_plain(field["name"], "field name")
        assert_harmless_html(field["value"], "field value")
    for key in ("uri", "url", "inbox_url", "shared_inbox_url", "followers_url"):
        assert is_http_uri(fields[key]), key
    for key in ("avatar_remote_url", "header_remote_url"):
        assert is_http_uri(fields[key]), key
    assert fields["domain"] == authority(fields["uri"])


@PROPERTIES
@given(st.one_of(NOTES, BROKEN_NOTES))
def test_polls_have_plain_distinct_options_or_none(document: dict[str, Any]) -> None:
    poll = poll_of(document)
    if poll is None:
        return
    assert 0 < len(poll.options) <= MAX_OPTIONS
    assert len(set(poll.options)) == len(poll.options) == len(poll.tallies)
    for option in poll.options:
        assert option == option.strip()
        assert option
        assert_plain(option, "poll option")
    assert all(0 <= count < 2**31 for count in poll.tallies)


@PROPERTIES
@given(st.one_of(URIS, JSON))
def test_references_and_authorities(value: Any) -> None:
    uri = uri_of(value)
    assert is_http_uri(uri)
    if uri is None:
        return
    try:
        found = authority(uri)
    except Unusable:
        return
    assert found == found.lower()
    assert "@" not in found
    assert "/" not in found


@PROPERTIES
@given(st.one_of(TIMES, JSON))
def test_times_are_aware_and_bounded_or_none(value: Any) -> None:
    moment = timestamp(value)
    assert moment is None or moment.tzinfo is not None
    bounded = bounded_time(value)
    assert bounded is None or EARLIEST <= bounded <= datetime.now(UTC)
