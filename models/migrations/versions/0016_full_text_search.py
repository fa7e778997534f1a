"""Full-text search over statuses and accounts

Two new index tables (FTS5 on SQLite, a tsvector with a GIN index on PostgreSQL) and nothing
else in the schema, backfilled here from the statuses and accounts already stored. Processes
of the previous version never read them; what they write during a rollout is indexed when
`flurfunk migrate` runs again (every run backfills whatever is missing).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 07:50:00
"""

from collections.abc import Sequence

from alembic import op

from models import search_index
from models.search_backfill import backfill

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _default_language() -> str:
    config = op.get_context().config
    given = config.attributes.get("default_language") if config is not None else None
    return str(given or "en")


def upgrade() -> None:
    connection = op.get_bind()
    schema = (
        search_index.POSTGRES_SCHEMA + search_index.ACCOUNT_POSTGRES_SCHEMA
        if connection.dialect.name == "postgresql"
        else search_index.SQLITE_SCHEMA
    )
    for statement in schema:
        op.execute(statement)
    backfill(connection, _default_language())


def downgrade() -> None:
    for table in (search_index.TABLE, search_index.ACCOUNT_TABLE):
        if op.get_bind().dialect.name != "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_delete")
        op.execute(f"DROP TABLE IF EXISTS {table}")
