"""Remote notes -> our columns: real payloads from other servers, and hostile ones."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from federation.jsonld import MEMBERS_ONLY, PUBLIC, normalize
from inbox.parse import MAX_TEXT, Unusable, actor_fields, markup_free, uri_of
from inbox.parse_notes import (
    MAX_ATTACHMENTS,
    MAX_TAGS,
    author_of,
    boost_visibility,
    is_note,
    media_kind,
    note_fields,
)

REAL_WORLD = Path(__file__).parent.parent / "data" / "real-world"
AUTHOR = "https://sales.example/users/bob"


def fixture(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((REAL_WORLD / name).read_text())
    return normalize(document)


def note(**fields: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": AUTHOR + "/statuses/1",
        "type": "Note",
        "attributedTo": AUTHOR,
        "content": "<p>hello</p>",
        "to": [PUBLIC],
        "cc": [AUTHOR + "/followers"],
        "published": "2024-03-01T10:00:00Z",
    }
    document.update(fields)
    return {k: v for k, v in document.items() if v is not None}


# --- real-world payloads -------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "mastodon_flow_1_create_note.json",
        "mastodon_flow_2_create_note.json",
        "buffalo_create_note_1.json",
        "munching_cow_create_note_1.json",
    ],
)
def test_created_notes_from_other_servers_parse(name: str) -> None:
    activity = fixture(name)
    parsed = note_fields(activity["object"], activity=activity)
    assert parsed.uri == activity["object"]["id"]
    assert parsed.author_uri == activity["actor"]
    assert parsed.visibility(None) == "public"
    assert parsed.content.startswith("<p>") or parsed.content.startswith("\\u003cp")
    assert parsed.published is not None
    assert parsed.published.year == 2023
    assert parsed.in_reply_to is None
    assert parsed.media == ()


def test_mastodon_note_fields() -> None:
    activity = fixture("mastodon_flow_1_create_note.json")
    parsed = note_fields(activity["object"])
    assert parsed.content == "<p>Creating Test Data!!! :)</p>"
    assert parsed.text == "Creating Test Data!!! :)"
    assert parsed.url == "https://mastodon/@john/9876"
    assert parsed.language == "en"
    assert parsed.spoiler_text == ""
    assert parsed.sensitive is False
    assert parsed.published == datetime(2023, 2, 4, 8, 52, 55, tzinfo=UTC)
    assert parsed.updated is None
    assert parsed.addressed == frozenset({"https://mastodon/users/john/followers"})


def test_an_updated_note_carries_its_edit_time() -> None:
    activity = fixture("mastodon_flow_1_update_note.json")
    parsed = note_fields(activity["object"])
    assert parsed.updated == datetime(2023, 2, 4, 8, 54, 15, tzinfo=UTC)
    assert "By updating it 🆕" in parsed.content


def test_a_peertube_video_is_not_a_note() -> None:
    video = fixture("peertube_create_video_1.json")
    assert not is_note(video)
    with pytest.raises(Unusable):
        note_fields(video)
    # Of several attributed actors the person is the author, not the channel.
    assert author_of(video) == "https://peertube/accounts/ddevault"


def test_a_note_without_addressing_takes_the_activitys() -> None:
    activity = fixture("munching_cow_create_note_1.json")
    bare = {k: v for k, v in activity["object"].items() if k not in ("to", "cc")}
    assert note_fields(bare, activity=activity).visibility(None) == "public"
    assert note_fields(bare).visibility(None) == "direct"


# --- addressing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("to", "cc", "expected"),
    [
        ([PUBLIC], [AUTHOR + "/followers"], "public"),
        (["as:Public"], [], "public"),
        ([AUTHOR + "/followers"], [PUBLIC], "unlisted"),
        ([AUTHOR + "/followers"], [], "private"),
        ([], [AUTHOR + "/followers"], "private"),
        (["https://hq.example/users/ann"], [], "direct"),
        ([], [], "direct"),
    ],
)
def test_visibility_follows_the_addressing(to: list[str], cc: list[str], expected: str) -> None:
    assert note_fields(note(to=to, cc=cc)).visibility(None) == expected


def test_the_followers_collection_is_the_authors_as_announced() -> None:
    custom = "https://sales.example/collections/bob-followers"
    parsed = note_fields(note(to=[custom], cc=[]))
    assert parsed.visibility(custom) == "private"
    assert parsed.visibility(None) == "direct"  # someone else's list is not a followers post


def test_addressing_given_as_a_single_string() -> None:
    assert note_fields(note(to=PUBLIC, cc=None)).visibility(None) == "public"


@pytest.mark.parametrize(
    ("to", "cc", "expected"),
    [
        ([PUBLIC], [], "public"),
        ([], [PUBLIC], "unlisted"),
        ([AUTHOR + "/followers"], [], "private"),
    ],
)
def test_boost_visibility(to: list[str], cc: list[str], expected: str) -> None:
    assert boost_visibility({"to": to, "cc": cc}) == expected


# --- content -------------------------------------------------------------------------------


def test_scripts_and_event_handlers_are_removed() -> None:
    hostile = (
        '<p onclick="steal()">hi<script>alert(1)</script>'
        '<a href="javascript:alert(2)">x</a><img src=x onerror=alert(3)>'
        '<style>body{}</style><iframe src="https://evil.example"></iframe></p>'
    )
    parsed = note_fields(note(content=hostile))
    lowered = parsed.content.lower()
    for bad in ("script", "onclick", "javascript:", "onerror", "<img", "<style", "<iframe"):
        assert bad not in lowered
    assert parsed.content.startswith("<p>hi")
    assert "alert(1)" not in parsed.text


def test_mastodon_links_survive_sanitising() -> None:
    html = (
        '<p><span class="h-card"><a href="https://hq.example/@ann" class="u-url mention">'
        '@<span>ann</span></a></span> see <a href="https://hq.example/tags/x" '
        'class="mention hashtag" rel="tag">#<span>x</span></a></p>'
    )
    assert note_fields(note(content=html)).content == html


def test_content_from_the_content_map_when_content_is_missing() -> None:
    parsed = note_fields(note(content=None, contentMap={"de": "<p>hallo</p>"}))
    assert parsed.content == "<p>hallo</p>"
    assert parsed.language == "de"


@pytest.mark.parametrize(
    ("content_map", "expected"),
    [
        ({"de-CH": "x"}, "de-ch"),
        ({"<script>": "x", "fr": "y"}, "fr"),
        ({"": "x"}, None),
        ("en", None),
        ({"a" * 40: "x"}, None),
    ],
)
def test_language_from_the_content_map(content_map: Any, expected: str | None) -> None:
    assert note_fields(note(contentMap=content_map)).language == expected


def test_article_title_comes_first_and_is_escaped() -> None:
    parsed = note_fields(note(type="Article", name="<b>Q3</b> & results", content="<p>body</p>"))
    assert (
        parsed.content == "<p><strong>&lt;b&gt;Q3&lt;/b&gt; &amp; results</strong></p><p>body</p>"
    )


def test_question_is_kept_as_a_note() -> None:
    assert note_fields(note(type="Question", content="<p>lunch?</p>")).content == "<p>lunch?</p>"


def test_summary_becomes_a_plain_content_warning() -> None:
    parsed = note_fields(note(summary="<b>spoilers</b> &amp; more"))
    assert parsed.spoiler_text == "spoilers & more"
    assert parsed.sensitive is True


def test_sensitive_must_be_true_not_truthy() -> None:
    assert note_fields(note(sensitive="yes")).sensitive is False
    assert note_fields(note(sensitive=True)).sensitive is True


# --- times ---------------------------------------------------------------------------------


def test_times_are_bounded() -> None:
    future = (datetime.now(UTC) + timedelta(days=400)).isoformat()
    parsed = note_fields(note(published=future))
    assert parsed.published is not None
    assert parsed.published <= datetime.now(UTC)
    ancient = note_fields(note(published="0001-01-01T00:00:00Z")).published
    assert ancient is not None
    assert ancient.year == 2000
    assert note_fields(note(published="yesterday")).published is None
    assert note_fields(note(published=12345)).published is None


def test_an_update_time_before_publication_is_no_edit() -> None:
    parsed = note_fields(note(updated="2020-01-01T00:00:00Z"))
    assert parsed.updated is None


# --- tags, mentions, replies ---------------------------------------------------------------


def test_mentions_hashtags_and_reply() -> None:
    parsed = note_fields(
        note(
            inReplyTo="https://hq.example/users/ann/statuses/5",
            tag=[
                {"type": "Mention", "href": "https://hq.example/users/ann", "name": "@ann"},
                {"type": "Mention", "href": "https://hq.example/users/ann"},
                {"type": "Mention", "href": "ftp://nope"},
                {"type": "Hashtag", "name": "#Quarterly", "href": "https://x/tags/quarterly"},
                {"type": "Hashtag", "name": "#two words"},
                {"type": "Hashtag", "name": ""},
                {"type": "Emoji", "name": ":blob:"},
                "not a tag",
            ],
        )
    )
    assert parsed.in_reply_to == "https://hq.example/users/ann/statuses/5"
    assert parsed.mentions == ("https://hq.example/users/ann",)
    assert parsed.hashtags == ("quarterly",)


def test_a_reply_given_as_an_object() -> None:
    parsed = note_fields(note(inReplyTo={"id": "https://hq.example/s/1", "type": "Note"}))
    assert parsed.in_reply_to == "https://hq.example/s/1"


# --- attachments ---------------------------------------------------------------------------


def test_attachments_become_remote_media() -> None:
    parsed = note_fields(
        note(
            attachment=[
                {
                    "type": "Document",
                    "mediaType": "image/png",
                    "url": "https://sales.example/media/a.png",
                    "name": "a chart",
                    "blurhash": "UBL_:rOpGG-o",
                    "width": 640,
                    "height": 480,
                    "focalPoint": [0.5, -0.25],
                },
                {"type": "Video", "url": [{"href": "https://sales.example/v.mp4"}]},
                {"type": "Document", "mediaType": "application/pdf", "url": "https://s.ex/r.pdf"},
                {"type": "Link", "mediaType": "text/html", "href": "https://s.ex/page"},
                {"type": "PropertyValue", "name": "x", "value": "y"},
            ]
        )
    )
    image, video, pdf = parsed.media
    assert (image.type, image.content_type, image.description) == ("image", "image/png", "a chart")
    assert image.meta["original"] == {
        "width": 640,
        "height": 480,
        "size": "640x480",
        "aspect": 640 / 480,
    }
    assert image.meta["focus"] == {"x": 0.5, "y": -0.25}
    assert image.blurhash == "UBL_:rOpGG-o"
    assert (video.type, video.remote_url) == ("video", "https://sales.example/v.mp4")
    assert (pdf.type, pdf.content_type) == ("unknown", "application/pdf")


@pytest.mark.parametrize(
    ("media_type", "as_type", "kind"),
    [
        ("image/jpeg", "Document", "image"),
        ("video/mp4", "Document", "video"),
        ("audio/ogg", "Document", "audio"),
        ("application/pdf", "Document", "unknown"),
        ("application/vnd.oasis.opendocument.text", "Document", "unknown"),
        ("", "Image", "image"),
        ("", "Document", "unknown"),
    ],
)
def test_media_kinds(media_type: str, as_type: str, kind: str) -> None:
    assert media_kind(media_type, as_type) == kind


def test_hostile_attachment_details_are_dropped() -> None:
    parsed = note_fields(
        note(
            attachment=[
                {
                    "type": "Image",
                    "url": "https://s.ex/a.png",
                    "width": True,
                    "height": -5,
                    "focalPoint": [5, "x"],
                    "name": {"evil": 1},
                }
            ]
        )
    )
    (image,) = parsed.media
    assert image.meta == {}
    assert image.description is None


def test_a_documents_file_name_and_size_are_read() -> None:
    parsed = note_fields(
        note(
            attachment=[
                {
                    "type": "Document",
                    "mediaType": "application/pdf",
                    "url": "https://sales.example/media/r.pdf",
                    "name": "Quartalsbericht Q3.pdf",
                    "size": 48213,
                },
                {
                    "type": "Document",
                    "mediaType": "application/vnd.oasis.opendocument.text",
                    "url": "https://sales.example/media/p.odt",
                    "name": "The minutes of Monday's meeting",  # alt text, no file name
                    "size": 0,
                },
                {
                    "type": "Image",
                    "mediaType": "image/png",
                    "url": "https://sales.example/media/a.png",
                    "name": "chart.png",
                    "size": 100,
                },
            ]
        )
    )
    pdf, odt, image = parsed.media
    assert (pdf.file_name, pdf.file_size) == ("Quartalsbericht Q3.pdf", 48213)
    assert pdf.description == "Quartalsbericht Q3.pdf"
    assert (odt.file_name, odt.file_size) == (None, 0)
    assert odt.description == "The minutes of Monday's meeting"
    assert (image.file_name, image.file_size) == (None, None)  # only documents have them


@pytest.mark.parametrize(
    "size",
    [-1, 2**31, 10**30, "48213", 48213.0, True, None, [1], {"value": 1}],
)
def test_a_hostile_document_size_is_dropped(size: Any) -> None:
    parsed = note_fields(
        note(
            attachment=[
                {
                    "type": "Document",
                    "mediaType": "application/pdf",
                    "url": "https://s.ex/r.pdf",
                    "name": "r.pdf",
                    "size": size,
                }
            ]
        )
    )
    (pdf,) = parsed.media
    assert pdf.file_size is None
    assert pdf.file_name == "r.pdf"


@pytest.mark.parametrize(
    ("name", "file_name"),
    [
        ("../../etc/passwd.pdf", None),
        ("..\\..\\boot.ini", None),
        ("reports/q3.pdf", None),
        (".htaccess", None),
        ("q3\x00.pdf", "q3.pdf"),  # the markup cleaner drops NUL
        ("q3\n.pdf", None),
        ("evil\u202egnp.pdf", None),  # right-to-left override: shown reversed
        ("a" * 10_000 + ".pdf", None),
        ("a" * 300 + ".pdf", None),
        ("<b>Bericht</b>.pdf", "Bericht.pdf"),
        ("<script>alert(1)</script>x.pdf", "x.pdf"),
        ("&lt;img src=x onerror=alert(1)&gt;.pdf", None),
        ({"evil": 1}, None),
        (12, None),
    ],
)
def test_a_hostile_document_name_is_no_file_name(name: Any, file_name: str | None) -> None:
    parsed = note_fields(
        note(
            attachment=[
                {
                    "type": "Document",
                    "mediaType": "application/pdf",
                    "url": "https://s.ex/r.pdf",
                    "name": name,
                    "size": 10,
                }
            ]
        )
    )
    (pdf,) = parsed.media
    assert pdf.file_name == file_name
    for shown in (pdf.file_name or "", pdf.description or ""):
        assert "<" not in shown
        assert ">" not in shown
        assert len(shown) <= 1_500
    assert (pdf.file_name or "").isprintable()  # alt text may have lines, a file name not


# --- hostile shapes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "document",
    [
        None,
        "https://sales.example/users/bob/statuses/1",
        [],
        {"type": "Note"},
        note(id=None),
        note(id="javascript:alert(1)"),
        note(id=12),
        note(attributedTo=None),
        note(attributedTo=["not a uri"]),
        note(type="Tombstone"),
        note(type=["Note"]),
        note(id="https://sales.example/" + "a" * 5000),
    ],
)
def test_unusable_documents(document: Any) -> None:
    with pytest.raises(Unusable):
        note_fields(document)


@pytest.mark.parametrize(
    "fields",
    [
        {"content": {"a": 1}},
        {"content": 42},
        {"content": ["<p>first</p>", "<p>second</p>"]},
        {"summary": ["a", "b"]},
        {"tag": {"type": "Mention", "href": AUTHOR}},
        {"tag": "oops"},
        {"attachment": {"type": "Image", "url": "https://s.ex/a.png"}},
        {"attachment": 7},
        {"to": 5, "cc": {"id": PUBLIC}},
        {"url": {"href": 3}},
        {"inReplyTo": 17},
        {"contentMap": ["en"]},
    ],
)
def test_wrong_types_are_read_as_absent(fields: dict[str, Any]) -> None:
    parsed = note_fields(note(**fields))
    assert parsed.uri == AUTHOR + "/statuses/1"


def test_huge_fields_are_bounded() -> None:
    many_tags = [{"type": "Hashtag", "name": f"#tag{i}"} for i in range(10_000)]
    many_media = [
        {"type": "Image", "mediaType": "image/png", "url": f"https://s.ex/{i}.png"}
        for i in range(100)
    ]
    many_addresses = [f"https://s.ex/users/u{i}" for i in range(50_000)]
    parsed = note_fields(
        note(
            content="<p>" + "x" * (3 * MAX_TEXT) + "</p>",
            summary="y" * 100_000,
            tag=many_tags,
            attachment=many_media,
            to=many_addresses,
        )
    )
    assert len(parsed.content) <= MAX_TEXT + 10
    assert len(parsed.spoiler_text) <= 5_000
    assert len(parsed.hashtags) <= MAX_TAGS
    assert len(parsed.media) == MAX_ATTACHMENTS
    assert len(parsed.addressed) <= 1001  # 1000 of `to`, and the followers in `cc`


def test_uris_longer_than_our_columns_are_unusable() -> None:
    assert uri_of("https://s.ex/" + "a" * 2000) is None
    assert uri_of("https://s.ex/a") == "https://s.ex/a"


def test_actor_updates_are_checked_too() -> None:
    with pytest.raises(Unusable):
        actor_fields({"id": AUTHOR, "type": "Note"})


# --- remote text and profile HTML ----------------------------------------------------------


@pytest.mark.parametrize(
    ("remote", "shown"),
    [
        ("<b>x</b>", "x"),
        ("<img src=x onerror=alert(1)>Bob", "Bob"),
        ("&lt;img src=x onerror=alert(1)&gt;Bob", "Bob"),
        ("&amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt;Bob", "Bob"),
        ("<script>alert(1)</script>Bob", "Bob"),
        (":blobcat: Bob", ":blobcat: Bob"),
        ("a < b & c", "a < b & c"),
        ("<3 Tom &amp; Jerry", "<3 Tom & Jerry"),
    ],
)
def test_remote_names_lose_their_markup(remote: str, shown: str) -> None:
    assert markup_free(remote) == shown


def test_a_profile_keeps_harmless_html_and_plain_names() -> None:
    fields = actor_fields(
        {
            "id": AUTHOR,
            "type": "Person",
            "preferredUsername": "bob",
            "inbox": AUTHOR + "/inbox",
            "name": "<b>Bob</b> :blobcat:",
            "summary": '<p>hi<img src=x onerror=alert(1)><a href="javascript:alert(2)">x</a></p>',
            "attachment": [
                {
                    "type": "PropertyValue",
                    "name": "<i>Web</i>",
                    "value": '<a href="https://sales.example/" onclick="alert(3)">site</a>',
                }
            ],
        }
    )
    assert fields["display_name"] == "Bob :blobcat:"
    assert fields["note"] == "<p>hi<a>x</a></p>"
    assert fields["fields"] == [
        {"name": "Web", "value": '<a href="https://sales.example/">site</a>'}
    ]


@pytest.mark.parametrize("name", ["", "<b>bob</b>", "bob\n", "bob@evil.example", "bo b", "b" * 65])
def test_an_actor_without_a_usable_user_name_is_unusable(name: str) -> None:
    with pytest.raises(Unusable):
        actor_fields(
            {"id": AUTHOR, "type": "Person", "preferredUsername": name, "inbox": AUTHOR + "/inbox"}
        )


@pytest.mark.parametrize("name", ["bob", "hq.flurfunk.test", "hq.flurfunk.test:8443"])
def test_user_names_and_instance_actors_named_after_their_node_are_usable(name: str) -> None:
    fields = actor_fields(
        {"id": AUTHOR, "type": "Application", "preferredUsername": name, "inbox": AUTHOR + "/i"}
    )
    assert fields["username"] == name


@pytest.mark.parametrize(
    ("kind", "members_only", "visibility"),
    [
        ("Group", True, "members"),
        ("Group", False, "public"),
        ("Group", None, None),  # another server's group says nothing: stays members-only
        ("Group", "false", None),
        ("Group", 0, None),
        ("Group", ["false"], None),
        ("Person", False, None),  # only groups have a visibility
    ],
)
def test_a_groups_visibility_is_read_from_its_actor(
    kind: str, members_only: Any, visibility: str | None
) -> None:
    actor = {"id": AUTHOR, "type": kind, "preferredUsername": "apollo", "inbox": AUTHOR + "/i"}
    if members_only is not None:
        actor[MEMBERS_ONLY] = members_only
    assert actor_fields(actor)["group_visibility"] == visibility


def test_a_groups_visibility_survives_json_ld_processing() -> None:
    actor = {
        # A context this node does not know: the document goes through pyld.
        "@context": ["https://www.w3.org/ns/activitystreams", "https://x.example/context"],
        "id": AUTHOR,
        "type": "Group",
        "preferredUsername": "apollo",
        "inbox": AUTHOR + "/i",
        MEMBERS_ONLY: False,
    }
    assert actor_fields(normalize(actor))["group_visibility"] == "public"


# --- link previews (docs/link-previews.md) -------------------------------------------------


def link_preview(**preview: Any) -> dict[str, Any]:
    return {
        "type": "Link",
        "href": "https://wiki.corp.example/plan",
        "mediaType": "text/html",
        "preview": {"type": "Page", "name": "Plan", "summary": "Q1", **preview},
    }


def test_a_link_preview_becomes_the_card_and_no_attachment() -> None:
    image = {
        "type": "Image",
        "url": "https://sales.example/media/remote/ab",
        "width": 600,
        "height": 300,
        "name": "chart",
        "blurhash": "LEHV6nWB2yk8pyo0adR*.7kCMdnj",
    }
    parsed = note_fields(
        note(
            attachment=[
                link_preview(
                    image=image,
                    attributedTo={"type": "Person", "name": "Anna", "url": "https://wiki/u"},
                    generator={"type": "Service", "name": "Corp Wiki"},
                )
            ]
        )
    )
    assert parsed.media == ()
    card = parsed.card
    assert card is not None
    assert (card.link, card.title, card.description) == (
        "https://wiki.corp.example/plan",
        "Plan",
        "Q1",
    )
    assert (card.type, card.author_name, card.provider_name) == ("link", "Anna", "Corp Wiki")
    assert card.image_url == "https://sales.example/media/remote/ab"
    assert (card.width, card.height, card.image_description) == (600, 300, "chart")


def test_a_hostile_link_preview_is_cleaned() -> None:
    parsed = note_fields(
        note(
            attachment=[
                link_preview(
                    type="Video",
                    name="<script>steal()</script>Plan<img src=x onerror=alert(1)>",
                    summary="&lt;b&gt;bold&lt;/b&gt;",
                    url="javascript:alert(1)",
                    image={"type": "Image", "url": "https://elsewhere.example/x.png"},
                    attributedTo={"name": "Eve", "url": "javascript:alert(2)"},
                )
            ]
        )
    )
    card = parsed.card
    assert card is not None
    assert (card.title, card.description) == ("Plan", "bold")
    assert card.url == card.link  # a javascript: URL is no URL
    assert card.image_url is None  # only the author's node serves the image
    assert card.author_url == ""
    assert card.type == "video"


def test_a_link_without_a_preview_is_no_card() -> None:
    link = {"type": "Link", "href": "https://x.example/", "mediaType": "text/html"}
    parsed = note_fields(note(attachment=[link]))
    assert parsed.card is None
    assert parsed.media == ()
