"""Remote files kept on this node, and link preview cards

Two new tables: processes of the previous version never read them. Remote URLs stored before
(attachments, avatars, headers) get rows due at once, so their copies are fetched too.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 11:10:00
"""

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    remote_files = op.create_table(
        "remote_files",
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("url", sa.String(length=1024), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=True),
        sa.Column("content_type", sa.String(length=255), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("fetch_after", sa.DateTime(), nullable=True),
        sa.Column("fetch_attempts", sa.Integer(), nullable=False),
        sa.Column("fetch_error", sa.String(length=500), nullable=True),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remote_files")),
        sa.UniqueConstraint("key", name=op.f("uq_remote_files_key")),
    )
    op.create_index("ix_remote_files_fetch_after", "remote_files", ["fetch_after"])
    op.create_table(
        "preview_cards",
        sa.Column("status_id", sa.BigInteger(), nullable=False),
        sa.Column("link", sa.String(length=2048), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("title", sa.String(length=512), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("author_name", sa.String(length=255), nullable=False),
        sa.Column("author_url", sa.String(length=2048), nullable=False),
        sa.Column("provider_name", sa.String(length=255), nullable=False),
        sa.Column("provider_url", sa.String(length=2048), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("image_url", sa.String(length=2048), nullable=True),
        sa.Column("image_description", sa.String(length=1500), nullable=False),
        sa.Column("embed_url", sa.String(length=2048), nullable=False),
        sa.Column("blurhash", sa.String(length=100), nullable=True),
        sa.Column("published_at", sa.DateTime(), nullable=True),
        sa.Column("fetched_at", sa.DateTime(), nullable=True),
        sa.Column("fetch_after", sa.DateTime(), nullable=True),
        sa.Column("fetch_attempts", sa.Integer(), nullable=False),
        sa.Column("fetch_error", sa.String(length=500), nullable=True),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["status_id"],
            ["statuses.id"],
            name=op.f("fk_preview_cards_status_id_statuses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_preview_cards")),
        sa.UniqueConstraint("status_id", name=op.f("uq_preview_cards_status_id")),
    )
    op.create_index("ix_preview_cards_fetch_after", "preview_cards", ["fetch_after"])
    _want_known_urls(remote_files)


def _want_known_urls(remote_files: sa.Table) -> None:
    connection = op.get_bind()
    found = connection.execute(
        sa.text(
            "SELECT remote_url FROM media_attachments WHERE remote_url IS NOT NULL "
            "UNION SELECT avatar_remote_url FROM accounts WHERE avatar_remote_url IS NOT NULL "
            "UNION SELECT header_remote_url FROM accounts WHERE header_remote_url IS NOT NULL"
        )
    ).scalars()
    now = datetime.now(UTC).replace(tzinfo=None)
    rows, seen = [], set()
    for number, url in enumerate(found):
        key = hashlib.sha256(url.encode()).hexdigest()[:40]
        if key in seen or len(url) > 1024:
            continue
        seen.add(key)
        # Ids as models.ids makes them: milliseconds << 16 | a sequence number.
        rows.append(
            {
                "id": ((int(now.timestamp() * 1000) + (number >> 16)) << 16) | (number & 0xFFFF),
                "key": key,
                "url": url,
                "size": 0,
                "meta": {},
                "fetch_after": now,
                "fetch_attempts": 0,
                "created_at": now,
            }
        )
    if rows:
        op.bulk_insert(remote_files, rows)


def downgrade() -> None:
    op.drop_index("ix_preview_cards_fetch_after", table_name="preview_cards")
    op.drop_table("preview_cards")
    op.drop_index("ix_remote_files_fetch_after", table_name="remote_files")
    op.drop_table("remote_files")
