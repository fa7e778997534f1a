"""The full-text indexes of statuses and accounts, kept in the same transaction as the rows.

Every flush that inserts a status, or changes its words (text, content warning, language),
writes the status's plain text into `status_search` in the same transaction, so an index row
can be neither lost nor stale; likewise an account's name, display name, bio and profile fields
into `account_search`. Whichever way a row goes (deleted by its author, by a remote Delete,
with its account), its index row goes with it: a foreign key with ON DELETE CASCADE on
PostgreSQL, a trigger on SQLite (an FTS5 table cannot carry a foreign key).

PostgreSQL stores a `tsvector` stemmed by the status's language (else the node's default);
SQLite an FTS5 table with the `porter unicode61 remove_diacritics 2` tokenizer: FTS5 has one
tokenizer per table, English Porter stemming does little harm to German words (and folds
plurals such as "Berichte"), and removing diacritics lets "Muller" find "Müller".

Boosts carry no words of their own and are not indexed. Profiles name no language: they are
stemmed by the node's default language.
"""

from __future__ import annotations

import contextlib
import html
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    any_,
    column,
    event,
    func,
    inspect,
    select,
    table,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, UOWTransaction

from models.account import Account
from models.status import Status

TABLE = "status_search"
ACCOUNT_TABLE = "account_search"
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
WORDS_OF_AN_ACCOUNT = ("username", "display_name", "note", "fields")
TOKENIZER = "porter unicode61 remove_diacritics 2"
# Up to this many estimated matches, a page is picked from all of them; above it, the newest
# statuses are walked. Walking reads ~20 x total / matches rows of recent (cached) index and
# table pages, ~0.3 us each; collecting reads a heap page per match, ~3 us each when cached:
# at a million statuses both take a few milliseconds around 2,000 matches. The estimate
# counts a word once per stemming it is read in (three, usually), so a word the statistics
# do not know (fewer matches than the ~1,000 most common words) is estimated at ~1,600.
FEW_MATCHES = 5000
BLOCKS = re.compile(r"^(p|br|li|div|blockquote|pre|h\d)$")


def _sqlite_schema(table: str, rows: str) -> tuple[str, ...]:
    return (
        f"CREATE VIRTUAL TABLE {table} USING fts5(body, tokenize = '{TOKENIZER}')",
        f"CREATE TRIGGER {table}_delete AFTER DELETE ON {rows} BEGIN "
        f"DELETE FROM {table} WHERE rowid = old.id; END",
    )


def _postgres_schema(table: str, key: str, rows: str) -> tuple[str, ...]:
    return (
        f"CREATE TABLE {table} ("
        f" {key} BIGINT PRIMARY KEY REFERENCES {rows} (id) ON DELETE CASCADE,"
        " document TSVECTOR NOT NULL)",
        f"CREATE INDEX ix_{table}_document ON {table} USING GIN (document)",
    )


SQLITE_SCHEMA = _sqlite_schema(TABLE, "statuses") + _sqlite_schema(ACCOUNT_TABLE, "accounts")
POSTGRES_SCHEMA = _postgres_schema(TABLE, "status_id", "statuses")
ACCOUNT_POSTGRES_SCHEMA = _postgres_schema(ACCOUNT_TABLE, "account_id", "accounts")
KEYS = {TABLE: "status_id", ACCOUNT_TABLE: "account_id"}
# The tables this module owns; the models' metadata does not describe them (they differ per
# database), so schema comparisons leave them out.
OWN_TABLES = tuple(
    f"{table}{part}"
    for table in KEYS
    for part in ("", "_data", "_idx", "_content", "_docsize", "_config")
)


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


def account_body(username: str, display_name: str, note: str, fields: Any) -> str:
    parts = [username, display_name, plain_text(note or "")]
    for field in fields if isinstance(fields, list) else []:
        if isinstance(field, dict):
            parts += [
                plain_text(str(field.get("name", ""))),
                plain_text(str(field.get("value", ""))),
            ]
    return "\n".join(part for part in parts if part)


def index_statements(dialect: str, table: str) -> tuple[str, str]:
    """(upsert of one row, removal of one row) with bind parameters id, body, config."""
    if dialect == "postgresql":
        key = KEYS[table]
        return (
            f"INSERT INTO {table} ({key}, document) VALUES "
            "(:id, to_tsvector(CAST(:config AS regconfig), :body)) "
            f"ON CONFLICT ({key}) DO UPDATE SET document = excluded.document",
            f"DELETE FROM {table} WHERE {key} = :id",
        )
    # FTS5 tables have no upsert: a changed row is removed, then written again.
    return (
        f"INSERT INTO {table} (rowid, body) VALUES (:id, :body)",
        f"DELETE FROM {table} WHERE rowid = :id",
    )


def _changed(row: object, names: tuple[str, ...]) -> bool:
    state = inspect(row)
    return any(state.attrs[name].history.has_changes() for name in names)


def index_rows(
    connection: Connection, rows: list[dict[str, Any]], *, fresh: bool, table: str = TABLE
) -> None:
    """Write index rows (`fresh`: none of them is indexed yet)."""
    upsert, remove = index_statements(connection.dialect.name, table)
    if connection.dialect.name != "postgresql" and not fresh:
        connection.execute(text(remove), [{"id": row["id"]} for row in rows])
    connection.execute(text(upsert), rows)


def _status_row(status: Status, default_language: str) -> dict[str, Any]:
    return {
        "id": status.id,
        "body": body_of(status.spoiler_text, status.content),
        "config": config_for(status.language, default_language),
    }


def _account_row(account: Account, default_language: str) -> dict[str, Any]:
    return {
        "id": account.id,
        "body": account_body(account.username, account.display_name, account.note, account.fields),
        "config": config_for(None, default_language),
    }


@event.listens_for(Session, "after_flush")
def _index_flushed_rows(session: Session, _flush: UOWTransaction) -> None:
    default_language = session.info.get(DEFAULT_LANGUAGE_KEY) or FALLBACK_LANGUAGE
    writes: list[tuple[str, bool, dict[str, Any]]] = []
    for fresh, rows in ((True, session.new), (False, session.dirty)):
        for row in rows:
            if isinstance(row, Status) and row.reblog_of_id is None:
                if fresh or _changed(row, WORDS_OF_A_STATUS):
                    writes.append((TABLE, fresh, _status_row(row, default_language)))
            elif isinstance(row, Account) and (fresh or _changed(row, WORDS_OF_AN_ACCOUNT)):
                writes.append((ACCOUNT_TABLE, fresh, _account_row(row, default_language)))
    if not writes:
        return
    connection = session.connection()
    for index in KEYS:
        for fresh in (True, False):
            batch = [row for t, f, row in writes if t == index and f == fresh]
            if batch:
                index_rows(connection, batch, fresh=fresh, table=index)


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
    return Status.id.in_(_matching(TABLE, dialect, terms, excluded, default_language))


@dataclass(frozen=True)
class PlannedMatch:
    """The condition "the status matches the words", and the planner settings the statement
    that uses it is to run under (`planner_settings`)."""

    condition: ColumnElement[bool]
    settings: dict[str, str]


# Statements are prepared, so each is planned for its own words (a generic plan cannot know
# them); JIT compiling a query that reads a few dozen rows costs tens of milliseconds.
SEARCH_SETTINGS = {"plan_cache_mode": "force_custom_plan", "jit": "off"}


async def planned_status_matches(
    session: AsyncSession,
    terms: list[str],
    excluded: list[str],
    default_language: str,
    *,
    few_matches: int = FEW_MATCHES,
) -> PlannedMatch:
    """`status_matches` on PostgreSQL, with the plan chosen by how many statuses match.

    The two plans for "the newest 20 that match" differ a thousandfold when the wrong one is
    taken: walking the statuses newest first, checking each, reads about 20 x total / matches
    rows (fast for a common word, the whole table for a rare one); reading all matches from
    the GIN index reads one heap page per match (fast for a rare word, slow for a common
    one). PostgreSQL's own choice weighs them badly, so the choice is made here from the
    planner's estimate of the matches alone (the lexeme frequencies ANALYZE keeps), which is
    close for common words and small for rare ones: up to `few_matches`, the matching ids
    are collected in the statement itself (an array, so the page is read newest first from
    the primary key and stops after a page); above it, the newest-first walk.
    """
    probe = _matching(TABLE, "postgresql", terms, excluded, default_language)
    estimate = await _estimated_matches(session, terms, excluded, default_language)
    if estimate <= few_matches:
        ids = func.array(probe.scalar_subquery())
        return PlannedMatch(Status.id == any_(ids), dict(SEARCH_SETTINGS))
    return PlannedMatch(Status.id.in_(probe), {**SEARCH_SETTINGS, "enable_bitmapscan": "off"})


async def _estimated_matches(
    session: AsyncSession, terms: list[str], excluded: list[str], default_language: str
) -> float:
    explain = text(
        f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {TABLE} "
        f"WHERE document @@ ({_tsquery(default_language)})"
    )
    words = {"words": _websearch(terms, excluded)}
    plan = (await session.execute(explain, words)).scalar_one()
    if isinstance(plan, str):
        plan = json.loads(plan)
    return float(plan[0]["Plan"]["Plan Rows"])


@contextlib.asynccontextmanager
async def planner_settings(session: AsyncSession, settings: dict[str, str]) -> AsyncIterator[None]:
    """Planner settings for the statements in the block, then back to what they were: the
    rest of the transaction (a request's other queries) is planned as before. (After an
    error the transaction is rolled back, and the settings with it.)"""
    names = sorted(settings)
    names_bound = {f"n{i}": name for i, name in enumerate(names)}
    saving = ", ".join(
        f"current_setting(:n{i}), set_config(:n{i}, :v{i}, true)" for i in range(len(names))
    )
    row = (
        await session.execute(
            text(f"SELECT {saving}"),
            names_bound | {f"v{i}": settings[name] for i, name in enumerate(names)},
        )
    ).one()
    yield
    restoring = ", ".join(f"set_config(:n{i}, :v{i}, true)" for i in range(len(names)))
    await session.execute(
        text(f"SELECT {restoring}"), names_bound | {f"v{i}": row[2 * i] for i in range(len(names))}
    )


def account_matches(dialect: str, terms: list[str], default_language: str) -> ColumnElement[bool]:
    """Accounts whose name, display name, bio or profile fields contain every term."""
    return Account.id.in_(_matching(ACCOUNT_TABLE, dialect, terms, [], default_language))


def _tsquery(default_language: str) -> str:
    """The query in every stemming it is read in, for the bind parameter `words`."""
    return " || ".join(
        f"websearch_to_tsquery('{config}', :words)" for config in search_configs(default_language)
    )


def _matching(
    table_name: str, dialect: str, terms: list[str], excluded: list[str], default_language: str
) -> Select[Any]:
    found: Select[Any]
    if dialect == "postgresql":
        query = _tsquery(default_language)
        found = (
            select(column(KEYS[table_name]))
            .select_from(table(table_name))
            .where(text(f"document @@ ({query})").bindparams(words=_websearch(terms, excluded)))
        )
    else:
        found = (
            select(column("rowid"))
            .select_from(table(table_name))
            .where(
                text(f"{table_name} MATCH :words").bindparams(
                    words=_fts5_expression(terms, excluded)
                )
            )
        )
    return found
