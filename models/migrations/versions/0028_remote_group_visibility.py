"""accounts.group_visibility: a remote group's visibility as its actor says

A member's node on another host then knows whether a post to the group may be public (and
be boosted); None where the group's node does not say, as before.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("accounts", sa.Column("group_visibility", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("group_visibility")
