"""Index media_attachments.remote_url

Serving this node's copy of a remote attachment asks which posts carry it, to decide who may
load it; nothing else changes.

Revision ID: 0027
Revises: 0025
Create Date: 2026-12-07 15:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_media_attachments_remote_url", "media_attachments", ["remote_url"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_media_attachments_remote_url", table_name="media_attachments")
