"""Groups (FEP-1b12)

Two new tables (a local group's rules, and its owners, moderators and invitations) and the
group a status is addressed to (`statuses.audience_id`).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "groups",
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("join_policy", sa.String(length=16), nullable=False),
        sa.Column("posting", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_groups_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_groups")),
    )
    op.create_table(
        "group_roles",
        sa.Column("group_id", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_group_roles_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["accounts.id"],
            name=op.f("fk_group_roles_group_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "account_id", name=op.f("pk_group_roles")),
    )
    op.create_index(op.f("ix_group_roles_account_id"), "group_roles", ["account_id"], unique=False)
    # A plain ADD COLUMN without a foreign key (as in_reply_to_account_id): no table copy on
    # SQLite, so the search triggers on statuses stay.
    op.add_column(
        "statuses",
        sa.Column("audience_id", sa.BigInteger(), nullable=True),
    )
    op.create_index(op.f("ix_statuses_audience_id"), "statuses", ["audience_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_statuses_audience_id"), table_name="statuses")
    with op.batch_alter_table("statuses") as batch:
        batch.drop_column("audience_id")
    op.drop_index(op.f("ix_group_roles_account_id"), table_name="group_roles")
    op.drop_table("group_roles")
    op.drop_table("groups")
