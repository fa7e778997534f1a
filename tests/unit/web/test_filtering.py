"""Which statuses a content filter matches, on the statuses as the client API presents them."""

from __future__ import annotations

from typing import Any

import pytest

from models.filters import ActiveFilter, Filter, FilterKeyword
from web.api.filtering import Rule, ViewerFilters, keyword_pattern, plain_text


def status(content: str = "", **fields: Any) -> dict[str, Any]:
    return {"id": "10", "content": content, "spoiler_text": "", "filtered": [], **fields}


def filters(
    *keywords: tuple[str, bool], action: str = "warn", ids: set[int] | None = None
) -> ViewerFilters:
    row = Filter(id=1, title="f", context=["home"], action=action, expires_at=None)
    active = ActiveFilter(
        row,
        [FilterKeyword(id=i, keyword=k, whole_word=w) for i, (k, w) in enumerate(keywords)],
        ids or set(),
    )
    return ViewerFilters([Rule.of(active)])


@pytest.mark.parametrize(
    ("keyword", "whole_word", "text", "matches"),
    [
        ("lunch", True, "Lunch at noon", True),
        ("lunch", True, "my lunchbox", False),
        ("lunch", False, "my lunchbox", True),
        ("#tag", True, "see #tag here", True),
        ("c++", True, "we write c++ daily", True),
        ("café", True, "Ein Café, bitte", True),
        ("café", True, "cafés", False),
        ("a.b", True, "axb", False),  # a keyword is text, never a pattern
    ],
)
def test_keyword_patterns(keyword: str, whole_word: bool, text: str, matches: bool) -> None:
    assert bool(keyword_pattern(keyword, whole_word).search(text)) is matches


def test_markup_is_not_text() -> None:
    assert plain_text("<p>one<br>two</p><p>&lt;b&gt; &amp;</p>") == "one\ntwo\n<b> &\n"
    assert (
        filters(("span", False)).statuses([status('<p><span class="h">hi</span></p>')])[0][
            "filtered"
        ]
        == []
    )


def test_every_part_of_a_status_is_searched() -> None:
    f = filters(("lunch", True))
    parts = [
        status(spoiler_text="lunch"),
        status(poll={"options": [{"title": "Lunch", "votes_count": 0}]}),
        status(media_attachments=[{"description": "a lunch photo"}]),
    ]
    for item in f.statuses(parts):
        assert item["filtered"][0]["keyword_matches"] == ["lunch"]


def test_a_boost_is_judged_by_the_boosted_status() -> None:
    boost = status("", id="11", reblog=status("<p>lunch</p>", id="5"))
    (marked,) = filters(("lunch", True)).statuses([boost])
    assert marked["filtered"] == marked["reblog"]["filtered"]
    assert marked["filtered"][0]["filter"]["title"] == "f"
    by_id = filters(ids={5}).statuses([status("", id="12", reblog=status("x", id="5"))])
    assert by_id[0]["filtered"][0]["status_matches"] == ["5"]


def test_hide_leaves_statuses_and_their_notifications_out() -> None:
    f = filters(("secret", True), action="hide")
    kept, gone = status("open", id="1"), status("a secret", id="2")
    assert f.statuses([kept, gone]) == [kept]
    notes: list[dict[str, Any]] = [
        {"id": "7", "status": status("a secret")},
        {"id": "8", "type": "follow"},
    ]
    assert [n["id"] for n in f.notifications(notes)] == ["8"]
