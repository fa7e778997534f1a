"""What a status search asks for: words, phrases, excluded words, and operators.

`from:NAME[@HOST]` (or `from:me`), `has:media`, `is:reply`, `before:YYYY-MM-DD` and
`after:YYYY-MM-DD` (UTC days, the day itself excluded); `-` in front of a word, a phrase,
`has:` or `is:` negates it. An operator with a value it cannot take is refused with a reason
(422); a `word:word` that names no operator ("Re:", "10:30") is searched as text. Quotes that
are never closed run to the end of the query. Nothing here reaches the index as syntax: the
terms are handed to the database as quoted words and phrases.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

OPERATORS = ("from", "has", "is", "before", "after")
TOKEN = re.compile(r'(-?)(?:([A-Za-z]+):)?(?:"([^"]*)"?|(\S*))')
WORD = re.compile(r"\w")


class QueryError(ValueError):
    """An operator with a value it cannot take; the message is the reason shown to the user."""


@dataclass
class StatusQuery:
    terms: list[str] = field(default_factory=list)  # words and phrases that must occur
    excluded: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)  # from: names, `name` or `name@host`
    media: bool | None = None  # has:media (True) or -has:media (False)
    reply: bool | None = None  # is:reply (True) or -is:reply (False)
    before: date | None = None
    after: date | None = None

    @property
    def has_words(self) -> bool:
        return bool(self.terms)

    @property
    def has_operators(self) -> bool:
        return bool(self.authors) or any(
            value is not None for value in (self.media, self.reply, self.before, self.after)
        )


def _day(operator: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise QueryError(f"{operator}: takes a day as YYYY-MM-DD, not {value!r}") from None


def _operator(query: StatusQuery, negated: bool, operator: str, value: str) -> None:
    if not value:
        raise QueryError(f"{operator}: needs a value")
    if operator == "from":
        if negated:
            raise QueryError("from: cannot be negated")
        query.authors.append(value.lstrip("@"))
    elif operator == "has":
        if value.lower() != "media":
            raise QueryError(f"has: takes media, not {value!r}")
        query.media = not negated
    elif operator == "is":
        if value.lower() != "reply":
            raise QueryError(f"is: takes reply, not {value!r}")
        query.reply = not negated
    elif negated:
        raise QueryError(f"{operator}: cannot be negated")
    elif operator == "before":
        query.before = _day(operator, value)
    else:
        query.after = _day(operator, value)


def parse(text: str) -> StatusQuery:
    query = StatusQuery()
    for found in TOKEN.finditer(text):
        negated, prefix, quoted, bare = found.groups()
        if prefix is not None and prefix.lower() in OPERATORS:
            _operator(query, bool(negated), prefix.lower(), quoted if bare is None else bare)
            continue
        term = " ".join(found.group(0).lstrip("-").replace('"', " ").split())
        if quoted is not None and prefix is None:
            term = " ".join(quoted.split())
        if not WORD.search(term):
            continue  # punctuation alone matches nothing and must not become syntax
        (query.excluded if negated else query.terms).append(term)
    return query
