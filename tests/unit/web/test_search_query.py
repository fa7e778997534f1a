"""Reading a search query: words, phrases, exclusions and operators; bad operator values are
refused with a reason, everything else is text."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from web.api.search_query import QueryError, parse


def test_words_phrases_and_operators() -> None:
    query = parse(
        'Kantine "neue Kaffeemaschine" -Fisch from:@ada@hq.example has:media -is:reply '
        "before:2026-12-01 after:2026-11-01 10:30"
    )
    assert query.terms == ["Kantine", "neue Kaffeemaschine", "10:30"]
    assert query.excluded == ["Fisch"]
    assert query.authors == ["ada@hq.example"]
    assert (query.media, query.reply) == (True, False)
    assert (query.before, query.after) == (date(2026, 12, 1), date(2026, 11, 1))


def test_an_unclosed_quote_runs_to_the_end() -> None:
    assert parse('Team "neue Kaffee').terms == ["Team", "neue Kaffee"]


def test_punctuation_alone_is_no_term() -> None:
    query = parse('" * - -- ( ) ^ :')
    assert query.terms == []
    assert query.excluded == []


@pytest.mark.parametrize(
    "text",
    [
        "before:gestern",
        "after:2026-02-30",
        "has:cats",
        "is:boring",
        "from:",
        "-from:ada",
        "-after:2026-01-01",
    ],
)
def test_bad_operator_values_are_refused(text: str) -> None:
    with pytest.raises(QueryError):
        parse(text)


@given(st.text(max_size=200))
def test_any_text_parses_or_is_refused_with_a_reason(text: str) -> None:
    try:
        query = parse(text)
    except QueryError as error:
        reason = str(error)
        query = None
    if query is None:
        assert reason
        return
    for term in [*query.terms, *query.excluded]:
        assert term.strip() == term
        assert term
