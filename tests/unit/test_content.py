"""Rendering status text to HTML: escaping, paragraphs, links, mentions, hashtags, Markdown."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from outbox.content import (
    MARKDOWN,
    Handle,
    MentionTarget,
    countable_length,
    mentioned_handles,
    render,
    sanitise,
)

NODE = "https://hq.example"
ALICE = MentionTarget(account_id=7, username="alice", url=f"{NODE}/@alice")
KNOWN = {Handle("alice"): ALICE}
ALICE_LINK = (
    f'<span class="h-card"><a href="{NODE}/@alice" class="u-url mention">'
    "@<span>alice</span></a></span>"
)


class Tags(HTMLParser):
    """The tags and attributes of an HTML fragment, as a browser would read them."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.append((tag, attrs))


def html(text: str, **kwargs: object) -> str:
    return render(text, public_url=NODE, mentions=KNOWN, **kwargs).html  # type: ignore[arg-type]


def test_plain_text_is_escaped() -> None:
    assert html('<script>alert("x")</script> & <b>') == (
        '<p>&lt;script&gt;alert("x")&lt;/script&gt; &amp; &lt;b&gt;</p>'
    )


def test_blank_lines_make_paragraphs_and_newlines_make_breaks() -> None:
    assert html("one\ntwo\n\nthree\r\n\r\n\r\nfour") == "<p>one<br>two</p><p>three</p><p>four</p>"
    assert html("  \n ") == ""


def test_urls_become_safe_links_without_trailing_punctuation() -> None:
    out = html("See https://example.com/a?b=1&c=2. And (http://x.example/wiki_(page)).")
    assert (
        '<a href="https://example.com/a?b=1&amp;c=2" rel="nofollow noopener noreferrer" '
        'target="_blank">https://example.com/a?b=1&amp;c=2</a>.'
    ) in out
    assert 'href="http://x.example/wiki_(page)"' in out
    assert "</a>)." in out


def test_other_schemes_are_not_linked() -> None:
    assert "<a" not in html("javascript:alert(1) ftp://example.com data:text/html,x")


def test_local_mentions_link_in_both_forms() -> None:
    rendered = render("hi @alice and @ALICE@hq.example", public_url=NODE, mentions=KNOWN)
    assert rendered.html == f"<p>hi {ALICE_LINK} and {ALICE_LINK}</p>"
    assert rendered.mentions == [ALICE]


def test_unknown_and_remote_mentions_stay_text() -> None:
    rendered = render(
        "@nobody @alice@other.example mail@alice.example", public_url=NODE, mentions=KNOWN
    )
    assert rendered.html == "<p>@nobody @alice@other.example mail@alice.example</p>"
    assert rendered.mentions == []


def test_a_resolved_remote_mention_links() -> None:
    remote = MentionTarget(9, "bob", "https://sales.example/@bob")
    rendered = render(
        "cc @bob@Sales.Example", public_url=NODE, mentions={Handle("bob", "sales.example"): remote}
    )
    assert 'href="https://sales.example/@bob" class="u-url mention">@<span>bob</span>' in (
        rendered.html
    )
    assert rendered.mentions == [remote]


def test_handles_are_listed_once_with_this_node_as_none() -> None:
    assert mentioned_handles(
        "@Alice @alice@HQ.example @bob@sales.example:8443 https://x.example/@carol",
        "hq.example",
    ) == [Handle("alice"), Handle("bob", "sales.example:8443")]


def test_hashtags_link_and_are_collected_lower_case() -> None:
    rendered = render("#Release #release #2024 #v2 #café x#no", public_url=NODE)
    assert rendered.tags == ["release", "v2", "café"]
    assert (
        f'<a href="{NODE}/tags/release" class="mention hashtag" rel="tag">#<span>Release</span></a>'
    ) in rendered.html
    assert "#2024" in rendered.html
    assert "x#no" in rendered.html
    assert f'href="{NODE}/tags/caf%C3%A9"' in rendered.html


def test_hashtags_and_mentions_inside_urls_are_part_of_the_url() -> None:
    rendered = render(
        "https://example.com/#top https://example.com/@alice", public_url=NODE, mentions=KNOWN
    )
    assert rendered.tags == []
    assert rendered.mentions == []
    assert rendered.html.count("<a ") == 2


def test_markdown_renders_and_links() -> None:
    out = html(
        "**bold** _it_ ~~gone~~ @alice #tag\n\n- one\n- two\n\n> quoted\n\n"
        "[docs](https://example.com) `@alice #tag`",
        content_type=MARKDOWN,
    )
    assert "<strong>bold</strong>" in out
    assert "<em>it</em>" in out
    assert "<s>gone</s>" in out
    assert ALICE_LINK in out
    assert 'class="mention hashtag"' in out
    assert "<li>one</li>" in out
    assert "<blockquote>" in out
    assert (
        '<a href="https://example.com" rel="nofollow noopener noreferrer" target="_blank">' in out
    )
    assert "<code>@alice #tag</code>" in out


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[x](javascript:alert(1))",
        "[x](vbscript:msgbox)",
        "![x](https://example.com/a.png)",
        '<a href="https://example.com" onclick="steal()">x</a>',
        "<style>body{display:none}</style>",
    ],
)
def test_markdown_output_is_sanitised(text: str) -> None:
    tags = Tags()
    tags.feed(html(text, content_type=MARKDOWN))
    assert not {"script", "img", "style", "a"} & {tag for tag, _ in tags.seen if tag != "a"}
    for _, attrs in tags.seen:
        assert all(not name.startswith("on") for name, _ in attrs)
        assert all(
            (value or "").startswith(("https:", "http:")) for name, value in attrs if name == "href"
        )


def test_sanitiser_strips_what_the_allowlist_does_not_name() -> None:
    dirty = (
        '<p onclick="x()" style="color:red">hi<script>bad()</script></p>'
        '<a href="javascript:alert(1)" class="evil">a</a><iframe src="https://x"></iframe>'
        '<a href="https://ok.example" rel="tag" class="mention hashtag">#ok</a>'
    )
    assert sanitise(dirty) == (
        '<p>hi</p><a>a</a><a href="https://ok.example" rel="tag" class="mention hashtag">#ok</a>'
    )


def test_length_counts_urls_as_23_and_remote_mentions_by_name() -> None:
    assert countable_length("hello") == 5
    assert countable_length("https://example.com/" + "x" * 100) == 23
    assert countable_length("@bob@a-very-long-domain.example hi") == len("@bob hi")
    assert countable_length("ä" * 10) == 10
