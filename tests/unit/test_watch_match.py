"""The watch-term matcher: whole words in any case, phrases across spaces and punctuation,
regular expressions with a time limit, and refusals of unusable terms."""

from __future__ import annotations

import time

import pytest

from outbox.watch_match import InvalidTerm, Term, WatchList, pattern_of


def labels(watch: WatchList, text: str) -> list[tuple[str, str]]:
    return [(m.label, m.text) for m in watch.scan(text)]


def test_plain_terms_match_whole_words_in_any_case() -> None:
    watch = WatchList.of(
        [Term(1, "Merger", "m&a"), Term(2, "Kunde Müller AG", "customers", hold=True)]
    )
    assert labels(watch, "The MERGER is on") == [("m&a", "MERGER")]
    assert labels(watch, "Emerging markets, mergers") == []
    assert labels(watch, "Die kunde müller-AG zahlt") == [("customers", "kunde müller-AG")]
    assert labels(watch, "Kunde Müller AGB") == []
    assert [m.hold for m in watch.scan("kunde MÜLLER ag")] == [True]
    assert labels(watch, "merger and Kunde Müller AG") == [
        ("m&a", "merger"),
        ("customers", "Kunde Müller AG"),
    ]


def test_regular_expressions_and_overlapping_terms() -> None:
    watch = WatchList.of(
        [
            Term(1, r"\bQ[1-4]/20\d\d\b", "quarter", regex=True),
            Term(2, "results", "results"),
            Term(3, "Q4 results", "q4", hold=True),
            Term(4, r"(\w)\1{3}", "repeats", regex=True),  # a back-reference runs on its own
        ]
    )
    found = labels(watch, "Our q4 results for Q4/2026: zzzz")
    assert found == [
        ("quarter", "Q4/2026"),
        ("results", "results"),
        ("q4", "q4 results"),
        ("repeats", "zzzz"),
    ]
    assert watch.scan("nothing to see") == []


def test_a_runaway_expression_stops_at_the_time_limit() -> None:
    watch = WatchList.of([Term(1, "(a|aa)+$", "slow", regex=True), Term(2, "fine", "fine")])
    started = time.monotonic()
    found = watch.scan("fine " + "a" * 5000 + "!")
    assert time.monotonic() - started < 5  # a bound against a hang, not a timing
    assert [(m.label, m.timed_out) for m in found] == [("slow", True), ("fine", False)]


@pytest.mark.parametrize(
    ("term", "is_regex"),
    [("", False), ("   ", False), ("x" * 501, False), ("(", True), ("a*", True), ("|", True)],
)
def test_unusable_terms_are_refused(term: str, is_regex: bool) -> None:
    with pytest.raises(InvalidTerm):
        pattern_of(term, is_regex)


def test_terms_stored_before_a_rule_tightened_are_left_out() -> None:
    watch = WatchList.of([Term(1, "(", "broken", regex=True), Term(2, "ok", "ok")])
    assert [t.id for t in watch.terms] == [2]
    assert labels(watch, "OK then") == [("ok", "OK")]
