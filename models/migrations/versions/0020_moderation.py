"""Reports, account warnings and appeals

New tables for reports, warnings and appeals; accounts gain a suspension reason and the
silenced and sensitized states; notifications name the report or warning they are about;
an outgoing activity may come from the instance actor (a forwarded report), so its account
becomes optional.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("account_id", sa.BigInteger(), nullable=True),
        sa.Column("target_account_id", sa.BigInteger(), nullable=False),
        sa.Column("status_ids", sa.JSON(), nullable=False),
        sa.Column("rule_ids", sa.JSON(), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("forward", sa.Boolean(), nullable=False),
        sa.Column("forwarded", sa.Boolean(), nullable=False),
        sa.Column("uri", sa.String(length=1024), nullable=True),
        sa.Column("assigned_account_id", sa.BigInteger(), nullable=True),
        sa.Column("action_taken_at", sa.DateTime(), nullable=True),
        sa.Column("action_taken_by_account_id", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_reports_account_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["action_taken_by_account_id"],
            ["accounts.id"],
            name=op.f("fk_reports_action_taken_by_account_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["assigned_account_id"],
            ["accounts.id"],
            name=op.f("fk_reports_assigned_account_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["target_account_id"],
            ["accounts.id"],
            name=op.f("fk_reports_target_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
        sa.UniqueConstraint("uri", name=op.f("uq_reports_uri")),
    )
    op.create_index(op.f("ix_reports_account_id"), "reports", ["account_id"])
    op.create_index(op.f("ix_reports_target_account_id"), "reports", ["target_account_id"])
    op.create_table(
        "account_warnings",
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("moderator_account_id", sa.BigInteger(), nullable=True),
        sa.Column("moderator", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status_ids", sa.JSON(), nullable=False),
        sa.Column("report_id", sa.BigInteger(), nullable=True),
        sa.Column("lifted_at", sa.DateTime(), nullable=True),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_account_warnings_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["moderator_account_id"],
            ["accounts.id"],
            name=op.f("fk_account_warnings_moderator_account_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.id"],
            name=op.f("fk_account_warnings_report_id_reports"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_warnings")),
    )
    op.create_index(op.f("ix_account_warnings_account_id"), "account_warnings", ["account_id"])
    op.create_table(
        "appeals",
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("warning_id", sa.BigInteger(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("approved_at", sa.DateTime(), nullable=True),
        sa.Column("rejected_at", sa.DateTime(), nullable=True),
        sa.Column("decided_by_account_id", sa.BigInteger(), nullable=True),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_appeals_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_account_id"],
            ["accounts.id"],
            name=op.f("fk_appeals_decided_by_account_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["warning_id"],
            ["account_warnings.id"],
            name=op.f("fk_appeals_warning_id_account_warnings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appeals")),
        sa.UniqueConstraint("warning_id", name=op.f("uq_appeals_warning_id")),
    )
    op.create_index(op.f("ix_appeals_account_id"), "appeals", ["account_id"])
    op.add_column("accounts", sa.Column("suspension_reason", sa.Text(), nullable=True))
    op.add_column("accounts", sa.Column("silenced_at", sa.DateTime(), nullable=True))
    op.add_column("accounts", sa.Column("sensitized_at", sa.DateTime(), nullable=True))
    op.add_column("notifications", sa.Column("report_id", sa.BigInteger(), nullable=True))
    op.add_column("notifications", sa.Column("warning_id", sa.BigInteger(), nullable=True))
    # The referred accounts table is not reflected: its expression index cannot be.
    with op.batch_alter_table(
        "outbox_activities", reflect_kwargs={"resolve_fks": False}
    ) as batch_op:
        batch_op.alter_column("account_id", existing_type=sa.BigInteger(), nullable=True)


def downgrade() -> None:
    # The referred accounts table is not reflected: its expression index cannot be.
    with op.batch_alter_table(
        "outbox_activities", reflect_kwargs={"resolve_fks": False}
    ) as batch_op:
        batch_op.alter_column("account_id", existing_type=sa.BigInteger(), nullable=False)
    op.drop_column("notifications", "warning_id")
    op.drop_column("notifications", "report_id")
    op.drop_column("accounts", "sensitized_at")
    op.drop_column("accounts", "silenced_at")
    op.drop_column("accounts", "suspension_reason")
    op.drop_table("appeals")
    op.drop_table("account_warnings")
    op.drop_table("reports")
