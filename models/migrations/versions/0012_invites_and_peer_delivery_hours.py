"""invite links, and delivery attempts per peer host and hour

Two new tables and nothing else: processes of the previous version never read them, so they
serve on unchanged while this migration runs (their workers simply do not count).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 07:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "invites",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_invites_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invites")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_invites_token_hash")),
    )
    op.create_index(op.f("ix_invites_account_id"), "invites", ["account_id"], unique=False)
    op.create_table(
        "peer_delivery_hours",
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("hour", sa.DateTime(), nullable=False),
        sa.Column("delivered", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("host", "hour", name=op.f("pk_peer_delivery_hours")),
    )


def downgrade() -> None:
    op.drop_table("peer_delivery_hours")
    op.drop_index(op.f("ix_invites_account_id"), table_name="invites")
    op.drop_table("invites")
