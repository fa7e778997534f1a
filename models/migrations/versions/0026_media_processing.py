"""Media attachments: the uploaded file name, its original size, and background processing

Six nullable or defaulted columns on media_attachments; nothing else changes.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("media_attachments") as batch:
        batch.add_column(sa.Column("file_name", sa.String(length=255), nullable=True))
        batch.add_column(
            sa.Column("original_bytes", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch.add_column(sa.Column("processing", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("processing_due", sa.DateTime(), nullable=True))
        batch.add_column(
            sa.Column("processing_attempts", sa.Integer(), server_default="0", nullable=False)
        )
        batch.add_column(sa.Column("unattached_since", sa.DateTime(), nullable=True))
        batch.create_index("ix_media_attachments_processing_due", ["processing_due"])


def downgrade() -> None:
    with op.batch_alter_table("media_attachments") as batch:
        batch.drop_index("ix_media_attachments_processing_due")
        batch.drop_column("unattached_since")
        batch.drop_column("processing_attempts")
        batch.drop_column("processing_due")
        batch.drop_column("processing")
        batch.drop_column("original_bytes")
        batch.drop_column("file_name")
