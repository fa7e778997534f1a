"""Custom roles that admins define next to the built-in ones (owner, admin, moderator, user,
which live in code: outbox.permissions). A user's role is its name in `users.role`, so a
custom role's name never changes and a role still held by someone is never deleted."""

from __future__ import annotations

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAt, TimeOrderedId


class CustomRole(TimeOrderedId, CreatedAt, Base):
    __tablename__ = "roles"

    # As long as users.role can hold.
    name: Mapped[str] = mapped_column(String(16), unique=True, nullable=False)
    color: Mapped[str] = mapped_column(String(7), default="", nullable=False)
    # Permission names, comma-separated, as the CLI and the API spell them.
    permissions: Mapped[str] = mapped_column(Text, default="", nullable=False)
