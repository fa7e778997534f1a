"""The full-text index of statuses, kept in the same transaction as the statuses themselves.

Every flush that inserts a status, or changes its words (text, content warning, language),
writes the status's plain text into `status_search` in the same transaction, so an index row
can be neither lost nor stale. Whichever way a status goes (deleted by its author, by a remote
Delete, with its account), its index row goes with it: a foreign key with ON DELETE CASCADE on
PostgreSQL, a trigger on SQLite (an FTS5 table cannot carry a foreign key).

PostgreSQL stores a `tsvector` stemmed by the status's language (else the node's default);
SQLite an FTS5 table with the `porter unicode61 remove_diacritics 2` tokenizer: FTS5 has one
tokenizer per table, English Porter stemming does little harm to German words (and folds
plurals such as "Berichte"), and removing diacritics lets "Muller" find "Müller".

Boosts carry no words of their own and are not indexed.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from typing import Any

from sqlalchemy import ColumnElement, Select, column, event, inspect, select, table, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, UOWTransaction

from models.status import Status

TABLE = "status_search"
DEFAULT_LANGUAGE_KEY = "flurfunk.default_language"
FALLBACK_LANGUAGE = "en"
# PostgreSQL's built-in text search configurations, by ISO 639-1 code.
CONFIGS = {
    "ar": "arabic",
    "da": "danish",
    "de": "german",
    "en": "english",
    "es": "spanish",
    "fi": "finnish",
    "fr": "french",
    "hu": "hungarian",
    "it": "italian",
    "nl": "dutch",
    "no": "norwegian",
    "nb": "norwegian",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sv": "swedish",
    "tr": "turkish",
}
WORDS_OF_A_STATUS = ("content", "spoiler_text", "language", "text")
BLOCKS = re.compile(r"^(p|br|li|div|blockquote|pre|h\d)$")

SQLITE_SCHEMA = (
    f"CREATE VIRTUAL TABLE {TABLE} USING fts5("
    "body, tokenize = 'porter unicode61 remove_diacritics 2')",
    f"CREATE TRIGGER {TABLE}_delete AFTER DELETE ON statuses BEGIN "
    f"DELETE FROM {TABLE} WHERE rowid = old.id; END",
)
POSTGRES_SCHEMA = (
    f"CREATE TABLE {TABLE} ("
    " status_id BIGINT PRIMARY KEY REFERENCES statuses (id) ON DELETE CASCADE,"
    " document TSVECTOR NOT NULL)",
    f"CREATE INDEX ix_{TABLE}_document ON {TABLE} USING GIN (document)",
)
# The tables this module owns; the models' metadata does not describe them (they differ per
# database), so schema comparisons leave them out.
OWN_TABLES = (TABLE, *(f"{TABLE}_{part}" for part in ("data", "idx", "content", "docsize")))
OWN_TABLES += (f"{TABLE}_config",)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if BLOCKS.match(tag):
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def plain_text(content: str) -> str:
    """The words of sanitised HTML, without markup or attribute values."""
    if "<" not in content:
        return html.unescape(content)
    parser = _Text()
    parser.feed(content)
    parser.close()
    return "".join(parser.parts)


def body_of(spoiler_text: str | None, content: str | None) -> str:
    return "\n".join(part for part in (spoiler_text or "", plain_text(content or "")) if part)


def config_for(language: str | None, default_language: str) -> str:
    """The PostgreSQL text search configuration of a status's language."""
    for candidate in (language, default_language):
        code = (candidate or "").split("-")[0].split("_")[0].lower()
        if code in CONFIGS:
            return CONFIGS[code]
    return "simple"


def index_statements(dialect: str) -> tuple[str, str]:
    """(upsert of one row, removal of one row) with bind parameters id, body, config."""
    if dialect == "postgresql":
        return (
            f"INSERT INTO {TABLE} (status_id, document) VALUES "
            "(:id, to_tsvector(CAST(:config AS regconfig), :body)) "
            "ON CONFLICT (status_id) DO UPDATE SET document = excluded.document",
            f"DELETE FROM {TABLE} WHERE status_id = :id",
        )
    # FTS5 tables have no upsert: a changed row is removed, then written again.
    return (
        f"INSERT INTO {TABLE} (rowid, body) VALUES (:id, :body)",
        f"DELETE FROM {TABLE} WHERE rowid = :id",
    )


def _changed_words(status: Status) -> bool:
    state = inspect(status)
    return any(state.attrs[name].history.has_changes() for name in WORDS_OF_A_STATUS)


def index_rows(connection: Connection, rows: list[dict[str, Any]], *, fresh: bool) -> None:
    """Write the index rows of statuses (`fresh`: none of them is indexed yet)."""
    upsert, remove = index_statements(connection.dialect.name)
    if connection.dialect.name != "postgresql" and not fresh:
        connection.execute(text(remove), [{"id": row["id"]} for row in rows])
    connection.execute(text(upsert), rows)


def _row(status: Status, default_language: str) -> dict[str, Any]:
    return {
        "id": status.id,
        "body": body_of(status.spoiler_text, status.content),
        "config": config_for(status.language, default_language),
    }


@event.listens_for(Session, "after_flush")
def _index_flushed_statuses(session: Session, _flush: UOWTransaction) -> None:
    default_language = session.info.get(DEFAULT_LANGUAGE_KEY) or FALLBACK_LANGUAGE
    new = [
        _row(s, default_language)
        for s in session.new
        if isinstance(s, Status) and s.reblog_of_id is None
    ]
    changed = [
        _row(s, default_language)
        for s in session.dirty
        if isinstance(s, Status) and s.reblog_of_id is None and _changed_words(s)
    ]
    if not new and not changed:
        return
    connection = session.connection()
    if new:
        index_rows(connection, new, fresh=True)
    if changed:
        index_rows(connection, changed, fresh=False)


def _quoted(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _fts5_expression(terms: list[str], excluded: list[str]) -> str:
    """Every term as a quoted string, so nothing the user typed is read as FTS5 syntax."""
    expression = "(" + " ".join(_quoted(t) for t in terms) + ")"
    return expression + "".join(" NOT " + _quoted(t) for t in excluded)


def _websearch(terms: list[str], excluded: list[str]) -> str:
    return " ".join([*(_quoted(t) for t in terms), *("-" + _quoted(t) for t in excluded)])


def search_configs(default_language: str) -> list[str]:
    """The stemmings a query is read in: a query names no language, so it matches a status
    stemmed as German, as English, as the node's default language, or not stemmed at all."""
    found = ["german", "english", config_for(None, default_language), "simple"]
    return list(dict.fromkeys(found))


def status_matches(
    dialect: str, terms: list[str], excluded: list[str], default_language: str
) -> ColumnElement[bool]:
    """Statuses whose words contain every term and none of the excluded ones."""
    found: Select[Any]
    if dialect == "postgresql":
        query = " || ".join(
            f"websearch_to_tsquery('{config}', :words)"
            for config in search_configs(default_language)
        )
        found = (
            select(column("status_id"))
            .select_from(table(TABLE))
            .where(text(f"document @@ ({query})").bindparams(words=_websearch(terms, excluded)))
        )
    else:
        found = (
            select(column("rowid"))
            .select_from(table(TABLE))
            .where(
                text(f"{TABLE} MATCH :words").bindparams(words=_fts5_expression(terms, excluded))
            )
        )
    return Status.id.in_(found)
