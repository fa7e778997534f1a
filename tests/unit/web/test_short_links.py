"""Long links on the pages read as Mastodon shows them; the address itself stays whole."""

from __future__ import annotations

import re

from web.ui.formats import short_links

LONG = "https://www.intranet.example/handbook/chapter-seven/holidays-and-leave?x=1&amp;y=2"


def shown(html: str) -> str:
    """The text a reader sees: without the parts the style sheet hides."""
    visible = re.sub(r'<span class="invisible">[^<]*</span>', "", html)
    visible = re.sub(r'<span class="ellipsis">([^<]*)</span>', r"\1…", visible)
    return re.sub(r"<[^>]+>", "", visible)


def test_a_long_bare_link_shows_thirty_characters_without_its_scheme() -> None:
    html = short_links(f'<p><a href="{LONG}">{LONG}</a></p>')
    assert f'href="{LONG}"' in html
    assert shown(html) == "intranet.example/handbook/chap…"
    assert re.sub(r"<[^>]+>", "", html) == LONG  # the whole address is still the text


def test_a_short_link_loses_only_its_scheme() -> None:
    html = short_links('<a href="https://wiki.example/plan">https://wiki.example/plan</a>')
    assert shown(html) == "wiki.example/plan"
    assert "ellipsis" not in html


def test_mentions_hashtags_and_named_links_stay_as_they_are() -> None:
    for html in (
        '<a href="https://hq.example/@ana" class="u-url mention">@<span>ana</span></a>',
        '<a href="https://hq.example/tags/plan" class="mention hashtag">#plan</a>',
        '<a href="https://wiki.example/plan">the plan</a>',
        '<a href="mailto:ana@hq.example">mailto:ana@hq.example</a>',
    ):
        assert short_links(html) == html


def test_a_remote_mastodon_link_whose_spans_lost_their_classes_is_shortened_again() -> None:
    url = "https://social.example/@someone/113456789012345678"
    remote = (
        f'<a href="{url}"><span>https://</span><span>social.example/@someone/11345</span>'
        "<span>6789012345678</span></a>"
    )
    assert shown(short_links(remote)) == "social.example/@someone/113456…"
