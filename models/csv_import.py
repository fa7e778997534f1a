"""A person's import of a Mastodon CSV file (outbox.csv_import_jobs), applied in the background.

The request stores the job and every row of the checked file together; the background job
applies the rows in batches and marks each one, in the same transaction as its effect, so a
restart continues where it stopped and applies no row twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAt, TimeOrderedId, UTCDateTime


class CsvImport(TimeOrderedId, CreatedAt, Base):
    """`queued` until a background job claims it, `running` while rows remain, then `done`."""

    __tablename__ = "csv_imports"

    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), index=True, nullable=False
    )
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    state: Mapped[str] = mapped_column(String(16), default="queued", nullable=False)
    total: Mapped[int] = mapped_column(Integer, nullable=False)
    claim: Mapped[str | None] = mapped_column(String(32))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CsvImportRow(Base):
    """One row of an import; `outcome` is None until applied, then `done` or `missing`."""

    __tablename__ = "csv_import_rows"

    import_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("csv_imports.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    target: Mapped[str] = mapped_column(String(2048), nullable=False)
    reblogs: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    notify: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    notifications: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    outcome: Mapped[str | None] = mapped_column(String(16))
