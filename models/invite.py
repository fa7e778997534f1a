"""Invite links: a new user's first sign-in, where they choose their own password.

Only the SHA-256 digest of the token is kept, so a copy of the database cannot be turned into
a sign-in. An invite belongs to an account created with it (whose password nobody knows until
the invite is used), is used once and lapses after `expires_at`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAt, TimeOrderedId, UTCDateTime


class Invite(TimeOrderedId, CreatedAt, Base):
    __tablename__ = "invites"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False, index=True
    )
    created_by: Mapped[str] = mapped_column(String(255), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
