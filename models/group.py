"""Groups (FEP-1b12): a local Group actor is an account row (`group` set) plus its rules here.

Members are the group account's followers (Follow rows, local or remote), so the followers
collection, home feeds and relationships need nothing new. Roles above "member" (owner,
moderator) and invitations (not yet a member) are kept in `group_roles`.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAt

GROUP_VISIBILITIES = ("public", "members")
JOIN_POLICIES = ("open", "approval", "invite")
POSTING_RIGHTS = ("members", "moderators")
ROLES = ("owner", "moderator", "member", "invited")
MODERATING = ("owner", "moderator")


class Group(CreatedAt, Base):
    """The rules of a local group; its name, title, description and avatar are its account's."""

    __tablename__ = "groups"

    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    visibility: Mapped[str] = mapped_column(String(16), default="public", nullable=False)
    join_policy: Mapped[str] = mapped_column(String(16), default="open", nullable=False)
    posting: Mapped[str] = mapped_column(String(16), default="members", nullable=False)


class GroupRole(CreatedAt, Base):
    """An owner, a moderator, or an invitation of a local group (plain members have none)."""

    __tablename__ = "group_roles"

    group_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(16), nullable=False)
