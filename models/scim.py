"""What the company directory provisions over SCIM 2.0 (web.scim): the bearer tokens the
directory calls with, the external ids it gives users, and its groups with their members.

Users themselves are the node's own accounts (models.account); a SCIM user is the local
account of the same name. Groups are kept as the directory sent them, so that what it
reads back is what it wrote; outbox.scim maps some of them to roles.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAt, TimeOrderedId, UTCDateTime, utcnow


class ScimToken(TimeOrderedId, CreatedAt, Base):
    """A bearer token of a directory; only its SHA-256 digest is kept."""

    __tablename__ = "scim_tokens"

    name: Mapped[str] = mapped_column(String(64), nullable=False)  # the audit log's scim:NAME
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)


class ScimUser(Base):
    """The directory's own facts about a local account (SCIM `externalId`)."""

    __tablename__ = "scim_users"

    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    external_id: Mapped[str | None] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class ScimGroup(TimeOrderedId, CreatedAt, Base):
    __tablename__ = "scim_groups"

    display_name: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    external_id: Mapped[str | None] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class ScimGroupMember(Base):
    __tablename__ = "scim_group_members"

    group_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("scim_groups.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True, index=True
    )
