"""What a user keeps for themselves about others: private notes on accounts, whole nodes they
do not want to see, threads they muted, how their notifications are filtered, and what they
show on their profile (featured hashtags, endorsed accounts).

None of it federates; each row belongs to one local account and only that account reads it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Select,
    String,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.account import Account
from models.base import Base, CreatedAt, TimeOrderedId

NOTE_MAX = 2000
POLICY_VALUES = ("accept", "filter", "drop")
POLICY_KEYS = (
    "for_not_following",
    "for_not_followers",
    "for_new_accounts",
    "for_private_mentions",
    "for_limited_accounts",
)
# Mastodon 4.3's defaults: private mentions from strangers and limited accounts are filtered.
POLICY_DEFAULTS = {
    "for_not_following": "accept",
    "for_not_followers": "accept",
    "for_new_accounts": "accept",
    "for_private_mentions": "filter",
    "for_limited_accounts": "filter",
}


def _owner(primary_key: bool = False) -> Mapped[int]:
    return mapped_column(
        BigInteger,
        ForeignKey("accounts.id", ondelete="CASCADE"),
        nullable=False,
        primary_key=primary_key,
    )


class AccountNote(Base):
    __tablename__ = "account_notes"

    account_id: Mapped[int] = _owner(primary_key=True)
    target_account_id: Mapped[int] = _owner(primary_key=True)
    comment: Mapped[str] = mapped_column(Text, nullable=False)


class DomainBlock(TimeOrderedId, CreatedAt, Base):
    """One user's block of a whole node (not the admin's allowlist)."""

    __tablename__ = "user_domain_blocks"
    __table_args__ = (UniqueConstraint("account_id", "domain"),)

    account_id: Mapped[int] = _owner()
    domain: Mapped[str] = mapped_column(String(255), nullable=False)  # lower case, as accounts'


class ConversationMute(Base):
    """A muted thread, keyed by its root status id (`Status.thread_id`, or the root's own id)."""

    __tablename__ = "conversation_mutes"

    account_id: Mapped[int] = _owner(primary_key=True)
    thread_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)


class NotificationPolicy(Base):
    __tablename__ = "notification_policies"

    account_id: Mapped[int] = _owner(primary_key=True)
    for_not_following: Mapped[str] = mapped_column(String(8), nullable=False)
    for_not_followers: Mapped[str] = mapped_column(String(8), nullable=False)
    for_new_accounts: Mapped[str] = mapped_column(String(8), nullable=False)
    for_private_mentions: Mapped[str] = mapped_column(String(8), nullable=False)
    for_limited_accounts: Mapped[str] = mapped_column(String(8), nullable=False)


class FeaturedTag(TimeOrderedId, CreatedAt, Base):
    __tablename__ = "featured_tags"
    __table_args__ = (UniqueConstraint("account_id", "tag_id"),)

    account_id: Mapped[int] = _owner()
    tag_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("tags.id", ondelete="CASCADE"), nullable=False
    )


class Endorsement(TimeOrderedId, CreatedAt, Base):
    """An account the owner shows on their profile ("pin" in 4.3, "endorse" in 4.4)."""

    __tablename__ = "endorsements"
    __table_args__ = (UniqueConstraint("account_id", "target_account_id"),)

    account_id: Mapped[int] = _owner()
    target_account_id: Mapped[int] = _owner()


# Timelines ask for the accounts of a user's blocked nodes on every page: by domain, not a scan.
Index("ix_accounts_domain", Account.domain)


def domain_blocked_accounts(viewer_id: Any) -> Select[int]:
    """Ids of the accounts on nodes the viewer blocked (`viewer_id` may be a bound parameter).

    Driven from the viewer's blocks, so that a user who blocked no node costs one index probe.
    """
    return (
        select(Account.id)
        .join(DomainBlock, DomainBlock.domain == Account.domain)
        .where(DomainBlock.account_id == viewer_id)
    )
