"""Full-text search over statuses

A new index table (FTS5 on SQLite, a tsvector with a GIN index on PostgreSQL) and nothing else
in the schema, backfilled here from the statuses already stored. Processes of the previous
version never read it; statuses they write during a rollout are indexed by `flurfunk migrate`
run again, which backfills whatever is missing.

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-07 07:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models import search_index

revision: str = "0013"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 2000


def _backfill(connection: sa.Connection) -> None:
    """Index every status with words that has no index row yet, in batches by id."""
    config = op.get_context().config
    given = config.attributes.get("default_language") if config is not None else None
    default_language = str(given or "en")
    if connection.dialect.name == "postgresql":
        missing = f"NOT EXISTS (SELECT 1 FROM {search_index.TABLE} i WHERE i.status_id = s.id)"
    else:
        missing = f"s.id NOT IN (SELECT rowid FROM {search_index.TABLE})"
    after = -1
    while True:
        rows = connection.execute(
            sa.text(
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


def upgrade() -> None:
    connection = op.get_bind()
    schema = (
        search_index.POSTGRES_SCHEMA
        if connection.dialect.name == "postgresql"
        else search_index.SQLITE_SCHEMA
    )
    for statement in schema:
        op.execute(statement)
    _backfill(connection)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {search_index.TABLE}_delete")
    op.execute(f"DROP TABLE IF EXISTS {search_index.TABLE}")
