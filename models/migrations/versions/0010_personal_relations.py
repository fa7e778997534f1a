"""account notes, user domain blocks, muted conversations, notification policy, featured tags,
endorsements

New tables and one index on accounts.domain: processes of the previous version never read the
tables, so they serve on unchanged while this migration runs. On a large PostgreSQL node the
index build holds a write lock on accounts for its duration (seconds per million accounts).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 05:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_accounts_domain", "accounts", ["domain"])
    op.create_table(
        "account_notes",
        sa.Column(
            "account_id",
            sa.BigInteger(),
            sa.ForeignKey(
                "accounts.id",
                ondelete="CASCADE",
                name=op.f("fk_account_notes_account_id_accounts"),
            ),
            nullable=False,
        ),
        sa.Column(
            "target_account_id",
            sa.BigInteger(),
            sa.ForeignKey(
                "accounts.id",
                ondelete="CASCADE",
                name=op.f("fk_account_notes_target_account_id_accounts"),
            ),
            nullable=False,
        ),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "target_account_id", name=op.f("pk_account_notes")),
    )
    op.create_table(
        "user_domain_blocks",
        sa.Column(
            "account_id",
            sa.BigInteger(),
            sa.ForeignKey(
                "accounts.id",
                ondelete="CASCADE",
                name=op.f("fk_user_domain_blocks_account_id_accounts"),
            ),
            nullable=False,
        ),
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_domain_blocks")),
        sa.UniqueConstraint(
            "account_id", "domain", name=op.f("uq_user_domain_blocks_account_id_domain")
        ),
    )
    op.create_table(
        "conversation_mutes",
        sa.Column(
            "account_id",
            sa.BigInteger(),
            sa.ForeignKey(
                "accounts.id",
                ondelete="CASCADE",
                name=op.f("fk_conversation_mutes_account_id_accounts"),
            ),
            nullable=False,
        ),
        sa.Column("thread_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "thread_id", name=op.f("pk_conversation_mutes")),
    )
    op.create_table(
        "notification_policies",
        sa.Column(
            "account_id",
            sa.BigInteger(),
            sa.ForeignKey(
                "accounts.id",
                ondelete="CASCADE",
                name=op.f("fk_notification_policies_account_id_accounts"),
            ),
            nullable=False,
        ),
        *(
            sa.Column(key, sa.String(length=8), nullable=False)
            for key in (
                "for_not_following",
                "for_not_followers",
                "for_new_accounts",
                "for_private_mentions",
                "for_limited_accounts",
            )
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_notification_policies")),
    )
    op.create_table(
        "featured_tags",
        sa.Column(
            "account_id",
            sa.BigInteger(),
            sa.ForeignKey(
                "accounts.id",
                ondelete="CASCADE",
                name=op.f("fk_featured_tags_account_id_accounts"),
            ),
            nullable=False,
        ),
        sa.Column(
            "tag_id",
            sa.BigInteger(),
            sa.ForeignKey("tags.id", ondelete="CASCADE", name=op.f("fk_featured_tags_tag_id_tags")),
            nullable=False,
        ),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_featured_tags")),
        sa.UniqueConstraint(
            "account_id", "tag_id", name=op.f("uq_featured_tags_account_id_tag_id")
        ),
    )
    op.create_table(
        "endorsements",
        sa.Column(
            "account_id",
            sa.BigInteger(),
            sa.ForeignKey(
                "accounts.id",
                ondelete="CASCADE",
                name=op.f("fk_endorsements_account_id_accounts"),
            ),
            nullable=False,
        ),
        sa.Column(
            "target_account_id",
            sa.BigInteger(),
            sa.ForeignKey(
                "accounts.id",
                ondelete="CASCADE",
                name=op.f("fk_endorsements_target_account_id_accounts"),
            ),
            nullable=False,
        ),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_endorsements")),
        sa.UniqueConstraint(
            "account_id",
            "target_account_id",
            name=op.f("uq_endorsements_account_id_target_account_id"),
        ),
    )


def downgrade() -> None:
    for table in (
        "endorsements",
        "featured_tags",
        "notification_policies",
        "conversation_mutes",
        "user_domain_blocks",
        "account_notes",
    ):
        op.drop_table(table)
    op.drop_index("ix_accounts_domain", table_name="accounts")
