"""Browser sessions of the node's own pages, kept on the server.

The cookie carries only a random secret; its SHA-256 digest finds the row. Each session acts
through an access token of its own, so the pages read and write with the very code the
client API runs, and ending the session (sign-out, password change, suspension) revokes the
token: open live streams close and a copied cookie finds nothing valid.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAt, TimeOrderedId, UTCDateTime


class BrowserSession(TimeOrderedId, CreatedAt, Base):
    __tablename__ = "browser_sessions"

    secret_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False, index=True
    )
    token_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("oauth_tokens.id", ondelete="CASCADE"), nullable=False
    )
    user_agent: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
