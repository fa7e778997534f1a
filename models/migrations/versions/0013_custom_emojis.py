"""Custom emoji: the node's own and those of other nodes

One new table and nothing else: processes of the previous version never read it.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 07:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "custom_emojis",
        sa.Column("shortcode", sa.String(length=64), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("visible_in_picker", sa.Boolean(), nullable=False),
        sa.Column("image_path", sa.String(length=255), nullable=True),
        sa.Column("static_path", sa.String(length=255), nullable=True),
        sa.Column("content_type", sa.String(length=64), nullable=True),
        sa.Column("uri", sa.String(length=1024), nullable=True),
        sa.Column("image_remote_url", sa.String(length=1024), nullable=True),
        sa.Column("fetch_after", sa.DateTime(), nullable=True),
        sa.Column("fetch_attempts", sa.Integer(), nullable=False),
        sa.Column("fetch_error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custom_emojis")),
        sa.UniqueConstraint("shortcode", "domain", name=op.f("uq_custom_emojis_shortcode_domain")),
    )
    op.create_index("ix_custom_emojis_fetch_after", "custom_emojis", ["fetch_after"])


def downgrade() -> None:
    op.drop_index("ix_custom_emojis_fetch_after", table_name="custom_emojis")
    op.drop_table("custom_emojis")
