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

import html
import re
from html.parser import HTMLParser
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    any_,
    bindparam,
    column,
    event,
    false,
    inspect,
    select,
    table,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
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
FEW_MATCHES = 2000  # up to this many matches, a page is picked from all of them
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


async def planned_status_matches(
    session: AsyncSession, terms: list[str], excluded: list[str], default_language: str
) -> ColumnElement[bool]:
    """`status_matches` on PostgreSQL, with the plan chosen by how many statuses match.

    PostgreSQL cannot estimate well how many statuses a word matches, and its two plans for
    "the newest 20 that match" differ a thousandfold when it guesses wrong: walking the
    statuses newest first, checking each, is fast for a common word and scans the whole
    table for a rare one; reading all matches from the GIN index and sorting them is fast
    for a rare word and slow for a common one. So the index is asked first for up to
    FEW_MATCHES ids: if that is all of them, the page is picked from those ids; otherwise
    the word is common and the newest-first walk is the plan. Statements are prepared, so
    each is planned for its own words (a generic plan cannot know them).
    """
    await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    probe = _matching(TABLE, "postgresql", terms, excluded, default_language)
    await session.execute(text("SET LOCAL enable_seqscan = off"))  # the GIN index, always
    ids = list((await session.execute(probe.limit(FEW_MATCHES + 1))).scalars())
    await session.execute(text("SET LOCAL enable_seqscan = DEFAULT"))
    if len(ids) <= FEW_MATCHES:
        if not ids:
            return false()
        return Status.id == any_(bindparam("matching_ids", ids, type_=ARRAY(BigInteger)))
    await session.execute(text("SET LOCAL enable_bitmapscan = off"))  # newest first, walking
    return Status.id.in_(probe)


def account_matches(dialect: str, terms: list[str], default_language: str) -> ColumnElement[bool]:
    """Accounts whose name, display name, bio or profile fields contain every term."""
    return Account.id.in_(_matching(ACCOUNT_TABLE, dialect, terms, [], default_language))


def _matching(
    table_name: str, dialect: str, terms: list[str], excluded: list[str], default_language: str
) -> Select[Any]:
    found: Select[Any]
    if dialect == "postgresql":
        query = " || ".join(
            f"websearch_to_tsquery('{config}', :words)"
            for config in search_configs(default_language)
        )
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
