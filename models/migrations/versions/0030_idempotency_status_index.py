"""Index idempotency_keys.status_id

Deleting a status cascades to the idempotency keys that name it; without an index PostgreSQL
scans the table once per deleted status, which a retention sweep does thousands of times.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07 19:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_idempotency_keys_status_id", "idempotency_keys", ["status_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_idempotency_keys_status_id", table_name="idempotency_keys")
