"""Index what is not indexed yet: all stored rows when the index is created (migration 0016),
and whatever processes of an older version wrote during a rollout (every `flurfunk migrate`).
Rows are read and indexed in batches by id, so memory stays flat on a large database.
"""

from __future__ import annotations

import json

from sqlalchemy import text
from sqlalchemy.engine import Connection

from models import search_index

BATCH = 2000


def _backfill_accounts(connection: Connection, default_language: str) -> None:
    table = search_index.ACCOUNT_TABLE
    if connection.dialect.name == "postgresql":
        missing = f"NOT EXISTS (SELECT 1 FROM {table} i WHERE i.account_id = a.id)"
    else:
        missing = f"a.id NOT IN (SELECT rowid FROM {table})"
    after = -1
    while True:
        rows = connection.execute(
            text(
                "SELECT a.id, a.username, a.display_name, a.note, a.fields FROM accounts a "
                f"WHERE a.id > :after AND {missing} ORDER BY a.id LIMIT :batch"
            ),
            {"after": after, "batch": BATCH},
        ).all()
        if not rows:
            return
        config = search_index.config_for(None, default_language)
        search_index.index_rows(
            connection,
            [
                {
                    "id": row.id,
                    "body": search_index.account_body(
                        row.username, row.display_name, row.note, _fields(row.fields)
                    ),
                    "config": config,
                }
                for row in rows
            ],
            fresh=True,
            table=table,
        )
        after = rows[-1].id


def _fields(stored: object) -> object:
    """JSON columns read through a plain SELECT are text on SQLite."""
    return json.loads(stored) if isinstance(stored, str) else stored


def _backfill(connection: Connection, default_language: str) -> None:
    """Index every status with words that has no index row yet, in batches by id."""
    if connection.dialect.name == "postgresql":
        missing = f"NOT EXISTS (SELECT 1 FROM {search_index.TABLE} i WHERE i.status_id = s.id)"
    else:
        missing = f"s.id NOT IN (SELECT rowid FROM {search_index.TABLE})"
    after = -1
    while True:
        rows = connection.execute(
            text(
                "SELECT s.id, s.spoiler_text, s.content, s.language FROM statuses s "
                f"WHERE s.id > :after AND s.reblog_of_id IS NULL AND {missing} "
                "ORDER BY s.id LIMIT :batch"
            ),
            {"after": after, "batch": BATCH},
        ).all()
        if not rows:
            return
        search_index.index_rows(
            connection,
            [
                {
                    "id": row.id,
                    "body": search_index.body_of(row.spoiler_text, row.content),
                    "config": search_index.config_for(row.language, default_language),
                }
                for row in rows
            ],
            fresh=True,
        )
        after = rows[-1].id


def backfill(connection: Connection, default_language: str) -> None:
    _backfill(connection, default_language)
    _backfill_accounts(connection, default_language)
