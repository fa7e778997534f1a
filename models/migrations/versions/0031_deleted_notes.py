"""deleted_notes: remote notes deleted by their author

A Delete may be processed before the Create of the same note (the Create was retried, or
processed later); the uri remembered here keeps that late Create from storing it again.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-07 22:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deleted_notes",
        sa.Column("uri", sa.String(length=1024), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("uri", name=op.f("pk_deleted_notes")),
    )


def downgrade() -> None:
    op.drop_table("deleted_notes")
