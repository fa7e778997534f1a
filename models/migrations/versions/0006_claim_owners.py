"""claim owners: who holds a claimed delivery or inbox row, and worker heartbeats

Two nullable columns and a new table: processes of the previous version claim rows without an
owner (those rows fall back to their lease) and serve on unchanged while this migration runs.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 04:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

IN_FLIGHT = sa.text("claimed_by IS NOT NULL")


def upgrade() -> None:
    op.create_table(
        "worker_heartbeats",
        sa.Column("owner", sa.String(length=96), nullable=False),
        sa.Column("beat_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("owner", name=op.f("pk_worker_heartbeats")),
    )
    for table in ("deliveries", "inbox_activities"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("claimed_by", sa.String(length=96), nullable=True))
        op.create_index(
            f"ix_{table}_claimed_by",
            table,
            ["claimed_by"],
            unique=False,
            postgresql_where=IN_FLIGHT,
            sqlite_where=IN_FLIGHT,
        )


def downgrade() -> None:
    for table in ("deliveries", "inbox_activities"):
        op.drop_index(f"ix_{table}_claimed_by", table_name=table)
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("claimed_by")
    op.drop_table("worker_heartbeats")
