"""Matching posts against the compliance watch terms, cheaply and with a time limit.

A term is a plain word or phrase, or a regular expression (the `regex` package, V1 syntax,
ignoring case). Plain terms match whole words ignoring case: "merger" does not match
"emerging", and between the words of a phrase any spaces or punctuation count ("Kunde Müller
AG" matches "kunde müller-AG"). The terms are compiled once per change: plain terms into a
table of word sequences, so that a post is read once, word by word, with one table look-up per
word and phrase length; regular expressions into one alternation that scans the post in one
pass. Only a post that the alternation matches is scanned again expression by expression, to
know each one that matched and its text. Every regular expression runs with a time limit: a
pattern that backtracks catastrophically stops at the limit, and the term counts as matched
("time limit reached"), so that a compliance officer looks at the post and fixes the term
instead of the node hanging or a post slipping through.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import regex

FLAGS = regex.V1 | regex.IGNORECASE
MAX_TERM_CHARS = 500
TERM_LIMIT = 0.05  # seconds one pattern may take over one post
POST_LIMIT = 0.25  # seconds all patterns together may take over one post
MAX_MATCHED_CHARS = 200
# Back-references and recursion tie a pattern to its own group numbers; such terms never join
# the one-pass alternation (whose groups would shift) and always run on their own.
SELF_REFERENCING = regex.compile(r"\\[1-9]|\\g|\(\?P=|\(\?&|\(\?R|\(\?[0-9+-]")
WORD = regex.compile(r"\w+")


def words_of(text: str) -> tuple[str, ...]:
    return tuple(w.casefold() for w in WORD.findall(text))


class InvalidTerm(ValueError):
    """A term that cannot be used (empty, too long, not a valid regular expression)."""


@dataclass(frozen=True)
class Term:
    id: int
    term: str
    label: str
    regex: bool = False
    hold: bool = False


@dataclass(frozen=True)
class Match:
    term_id: int
    label: str
    text: str  # what matched ("" when the time limit was reached)
    hold: bool
    timed_out: bool = False


def pattern_of(term: str, is_regex: bool) -> str:
    """The regular expression for a term; InvalidTerm when it cannot be one."""
    if not term.strip():
        raise InvalidTerm("The term is empty")
    if len(term) > MAX_TERM_CHARS:
        raise InvalidTerm(f"The term is longer than {MAX_TERM_CHARS} characters")
    if is_regex:
        source = term
    else:
        words = term.split()
        source = r"(?<!\w)" + r"\s+".join(regex.escape(w) for w in words) + r"(?!\w)"
    try:
        compiled = regex.compile(source, FLAGS)
    except (regex.error, ValueError, OverflowError, RecursionError) as exc:
        raise InvalidTerm(f"The term is not a valid regular expression: {exc}") from None
    if compiled.match("", timeout=TERM_LIMIT) is not None and is_regex:
        raise InvalidTerm("The regular expression matches an empty text, so every post")
    return source


@dataclass
class WatchList:
    """The terms of one moment, compiled: `scan` a post's texts for matches."""

    terms: tuple[Term, ...] = ()
    _phrases: dict[tuple[str, ...], list[Term]] = field(default_factory=dict)
    _starts: dict[str, int] = field(default_factory=dict)  # first word -> longest phrase
    _expressions: tuple[Term, ...] = ()  # regular expressions (and plain terms without words)
    _singles: dict[int, regex.Pattern[str]] = field(default_factory=dict)
    _combined: regex.Pattern[str] | None = None
    _alone: tuple[Term, ...] = ()  # expressions left out of the combined pattern

    @classmethod
    def of(cls, terms: Iterable[Term]) -> WatchList:
        usable: list[Term] = []
        phrases: dict[tuple[str, ...], list[Term]] = {}
        expressions: list[Term] = []
        singles: dict[int, regex.Pattern[str]] = {}
        for term in terms:
            try:
                pattern = regex.compile(pattern_of(term.term, term.regex), FLAGS)
            except (InvalidTerm, TimeoutError):
                continue  # stored before a rule tightened; the API refuses such terms now
            usable.append(term)
            words = () if term.regex else words_of(term.term)
            if words:
                phrases.setdefault(words, []).append(term)
            else:
                expressions.append(term)
                singles[term.id] = pattern
        joinable = [t for t in expressions if not (t.regex and SELF_REFERENCING.search(t.term))]
        alone = tuple(t for t in expressions if t not in joinable)
        combined = None
        if joinable:
            source = "|".join(f"(?:{singles[t.id].pattern})" for t in joinable)
            try:
                combined = regex.compile(source, FLAGS)
            except regex.error:  # named groups of two terms clash, say: scan term by term
                alone = tuple(expressions)
        starts: dict[str, int] = {}
        for words in phrases:
            starts[words[0]] = max(starts.get(words[0], 0), len(words))
        return cls(tuple(usable), phrases, starts, tuple(expressions), singles, combined, alone)

    def __bool__(self) -> bool:
        return bool(self.terms)

    def scan(self, *texts: str | None) -> list[Match]:
        """Every term that matches the texts, once each, in the order of the terms."""
        text = "\n".join(t for t in texts if t)
        if not self.terms or not text:
            return []
        found = self._phrases_in(text) if self._phrases else {}
        if self._expressions:
            deadline = time.monotonic() + POST_LIMIT
            candidates: Iterable[Term] = self._expressions
            if self._combined is not None:
                try:
                    hit = self._combined.search(text, timeout=TERM_LIMIT) is not None
                except TimeoutError:
                    hit = True  # some term is slow on this text: find out which, one by one
                if not hit:
                    candidates = self._alone
            for term in candidates:
                match = self._one(term, text, deadline)
                if match is not None:
                    found[term.id] = match
        return [found[t.id] for t in self.terms if t.id in found]

    def _phrases_in(self, text: str) -> dict[int, Match]:
        """One pass over the words: a look-up per word, and per run of words that starts
        like a phrase (up to the longest phrase)."""
        spans = [m.span() for m in WORD.finditer(text)]
        words = [text[a:b].casefold() for a, b in spans]
        phrases, starts, found = self._phrases, self._starts, {}
        for i, word in enumerate(words):
            longest = starts.get(word)
            if longest is None:
                continue
            for n in range(1, min(longest, len(words) - i) + 1):
                for term in phrases.get(tuple(words[i : i + n]), ()):
                    if term.id not in found:
                        matched = text[spans[i][0] : spans[i + n - 1][1]][:MAX_MATCHED_CHARS]
                        found[term.id] = Match(term.id, term.label, matched, term.hold)
        return found

    def _one(self, term: Term, text: str, deadline: float) -> Match | None:
        left = deadline - time.monotonic()
        if left <= 0:
            return Match(term.id, term.label, "", term.hold, timed_out=True)
        try:
            found = self._singles[term.id].search(text, timeout=min(TERM_LIMIT, left))
        except TimeoutError:
            return Match(term.id, term.label, "", term.hold, timed_out=True)
        if found is None:
            return None
        return Match(term.id, term.label, found.group(0)[:MAX_MATCHED_CHARS], term.hold)
