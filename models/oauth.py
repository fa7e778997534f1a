"""OAuth2 applications, authorization codes and access tokens (stored hashed)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAt, TimeOrderedId, UTCDateTime


class OAuthApp(TimeOrderedId, CreatedAt, Base):
    """A registered client; never deleted, since installed apps keep their credentials."""

    __tablename__ = "oauth_apps"

    name: Mapped[str] = mapped_column(String(255), nullable=False)
    website: Mapped[str | None] = mapped_column(String(1024))
    redirect_uris: Mapped[str] = mapped_column(Text, nullable=False)  # newline-separated
    scopes: Mapped[str] = mapped_column(String(1024), nullable=False)  # space-separated
    client_id: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    client_secret: Mapped[str] = mapped_column(String(64), nullable=False)
    owner_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="SET NULL")
    )


class AuthorizationCode(CreatedAt, Base):
    __tablename__ = "oauth_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    app_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("oauth_apps.id", ondelete="CASCADE"), nullable=False
    )
    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False
    )
    scopes: Mapped[str] = mapped_column(String(1024), nullable=False)
    redirect_uri: Mapped[str] = mapped_column(Text, nullable=False)
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class AccessToken(TimeOrderedId, CreatedAt, Base):
    """A bearer token; only SHA-256 digests of the token and refresh token are stored."""

    __tablename__ = "oauth_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    refresh_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    app_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("oauth_apps.id", ondelete="CASCADE")
    )
    account_id: Mapped[int | None] = mapped_column(  # None for client_credentials tokens
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    scopes: Mapped[str] = mapped_column(String(1024), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
