"""Custom emoji without a node: which `Emoji` tags are kept, which shortcodes a text names,
how pages turn them into images (never inside markup, never from another host), and which
files count as emoji images."""

from __future__ import annotations

from typing import Any

import pytest
from jinja2 import Environment

from federation.jsonld import normalize
from inbox.parse_notes import emoji_tags
from outbox import emoji_images
from outbox.emoji_catalogue import EmojiCatalogue, EmojiRef, shortcodes_in
from tests import emoji_kit
from web.ui.formats import FILTERS

MASTODON_CONTEXT: list[Any] = [
    "https://www.w3.org/ns/activitystreams",
    {"toot": "http://joinmastodon.org/ns#", "Emoji": "toot:Emoji"},
]


def emoji(name: Any, url: Any = "https://hq.example/e.png", **icon: Any) -> dict[str, Any]:
    return {
        "id": "https://hq.example/emojis/1",
        "type": "Emoji",
        "name": name,
        "updated": "2026-11-01T10:00:00Z",
        "icon": {"type": "Image", "mediaType": "image/png", "url": url, **icon},
    }


def test_a_mastodon_emoji_tag_is_read() -> None:
    note = normalize({"@context": MASTODON_CONTEXT, "type": "Note", "tag": [emoji(":blobcat:")]})
    (found,) = emoji_tags(note)
    assert found.shortcode == "blobcat"
    assert found.image_url == "https://hq.example/e.png"
    assert found.uri == "https://hq.example/emojis/1"
    assert found.updated is not None


def test_an_emoji_tag_under_an_unusual_context_is_read_after_expansion() -> None:
    context = [
        "https://www.w3.org/ns/activitystreams",
        {"m": "http://joinmastodon.org/ns#", "Emoji": "m:Emoji"},
    ]
    tag = emoji(":blobcat:")
    note = normalize(
        {"@context": context, "id": "https://hq.example/n/1", "type": "Note", "tag": [tag]}
    )
    assert [e.shortcode for e in emoji_tags(note)] == ["blobcat"]


@pytest.mark.parametrize(
    "tag",
    [
        emoji(":<img src=x onerror=alert(1)>:"),
        emoji(':a" onload="x:'),
        emoji(":x:"),  # too short
        emoji(":" + "a" * 65 + ":"),
        emoji(42),
        emoji(":ok:", url="http://127.0.0.1:8000/e.png"),
        emoji(":ok:", url="http://[::1]/e.png"),
        emoji(":ok:", url="http://2130706433/e.png"),
        emoji(":ok:", url="javascript:alert(1)"),
        emoji(":ok:", url="file:///etc/passwd"),
        emoji(":ok:", mediaType="image/svg+xml"),
        emoji(":ok:", mediaType="text/html"),
        {"type": "Emoji", "name": ":ok:"},  # no icon
    ],
)
def test_hostile_or_broken_emoji_tags_are_dropped(tag: dict[str, Any]) -> None:
    assert emoji_tags({"type": "Note", "tag": [tag]}) == ()


def test_one_emoji_per_shortcode_and_a_bounded_number() -> None:
    tags = [emoji(f":e{i}:", url=f"https://hq.example/{i}.png") for i in range(200)]
    tags.insert(1, emoji(":e0:", url="https://hq.example/other.png"))
    found = emoji_tags({"type": "Note", "tag": tags})
    assert len(found) == 64
    assert found[0].image_url == "https://hq.example/0.png"


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        (":blobcat: hi", {"blobcat"}),
        (":a1::b_2:", {"a1", "b_2"}),
        ("at 12:30:45", set()),
        ("word:inside:word", set()),
        ("<p>:party:</p>", {"party"}),
        (":x: and :toolong" + "a" * 70 + ":", set()),
    ],
)
def test_shortcodes_named_by_a_text(text: str, codes: set[str]) -> None:
    assert shortcodes_in(text) == codes


def test_the_catalogue_finds_emoji_of_the_authors_node_only() -> None:
    ref = EmojiRef("blobcat", "b.png", "b.png", "image/png", True, None)
    remote = EmojiRef("blobcat", "r.png", "r.png", "image/png", False, None)
    catalogue = EmojiCatalogue({("", "blobcat"): ref, ("sales.example", "blobcat"): remote})
    assert catalogue.used(None, "hi :blobcat:") == [ref]
    assert catalogue.used("sales.example", "hi :blobcat:") == [remote]
    assert catalogue.used("hr.example", "hi :blobcat:") == []


BASE = "https://hq.example"
BLOBCAT = {"shortcode": "blobcat", "url": BASE + "/emoji/blobcat-1.png"}


def render(template: str, **values: Any) -> str:
    environment = Environment(autoescape=True)
    environment.filters.update(FILTERS)
    return environment.from_string(template).render(public_url=BASE, **values)


def test_a_post_shows_its_emoji_as_images_only_in_text_never_in_markup() -> None:
    status = {
        "content": '<p><a href="https://hq.example/:blobcat:" title=":blobcat:">:blobcat:</a> '
        "and :blobcat:</p>",
        "emojis": [BLOBCAT],
        "mentions": [],
    }
    html = render("{{ s|status_html }}", s=status)
    image = '<img class="emoji" src="/emoji/blobcat-1.png" alt=":blobcat:"'
    assert html.count(image) == 2
    assert 'href="/:blobcat:"' in html
    assert 'title=":blobcat:"' in html


def test_an_emoji_from_another_host_is_never_shown_as_an_image() -> None:
    elsewhere = {"shortcode": "blobcat", "url": "https://evil.example/x.png"}
    html = render(
        "{{ a|display_name }}", a={"display_name": "Eve :blobcat:", "emojis": [elsewhere]}
    )
    assert html == "Eve :blobcat:"


def test_names_stay_text_around_their_emoji() -> None:
    account = {"display_name": "<b>Bob</b> :blobcat:", "emojis": [BLOBCAT]}
    html = render("{{ a|display_name }}", a=account)
    assert html.startswith('&lt;b&gt;Bob&lt;/b&gt; <img class="emoji"')
    evil = {"shortcode": '"><script>', "url": BASE + "/emoji/x.png"}
    assert "<script>" not in render(
        "{{ a|display_name }}", a={"display_name": '":"><script>:', "emojis": [evil]}
    )


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"GIF89a not really", "not a PNG, GIF or WebP"),
        (emoji_kit.jpeg(), "not a PNG, GIF or WebP"),
        (emoji_kit.noise_png(), "larger than 256 KB"),
        (emoji_kit.huge_canvas_png(), "at most 1024x1024"),
        (emoji_kit.png()[:60], "not a PNG, GIF or WebP"),  # cut short: decoding fails
    ],
)
def test_files_that_are_no_emoji_image(data: bytes, reason: str) -> None:
    with pytest.raises(emoji_images.EmojiImageError, match=reason):
        emoji_images.check(data)


def test_an_animation_gets_a_still_first_frame() -> None:
    checked = emoji_images.check(emoji_kit.animated_gif())
    assert checked.mime == "image/gif"
    assert checked.still is not None
    assert checked.still.startswith(b"\x89PNG")
    assert emoji_images.check(emoji_kit.png()).still is None
