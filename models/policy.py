"""The node's usage policy: every published version is kept, and who accepted which one.

A person may write (post, interact) once they have accepted the newest version; publishing a
new version asks everyone again, because acceptances name the version they were given for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.account import Account, User
from models.base import Base, TimeOrderedId, UTCDateTime, utcnow
from models.db import upsert
from models.ids import new_id


class PolicyVersion(TimeOrderedId, Base):
    """One published text; `version` counts up from 1 and is what people accept."""

    __tablename__ = "policy_versions"

    version: Mapped[int] = mapped_column(Integer, unique=True, nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    published_by: Mapped[str] = mapped_column(String(255), default="", nullable=False)


class PolicyAcceptance(TimeOrderedId, Base):
    """Who accepted which version, and when."""

    __tablename__ = "policy_acceptances"
    __table_args__ = (UniqueConstraint("account_id", "version"),)

    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.account_id", ondelete="CASCADE"), nullable=False
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


async def current(session: AsyncSession) -> PolicyVersion | None:
    """The newest version (None: the node has no policy, and nothing is gated)."""
    return await session.scalar(
        select(PolicyVersion).order_by(PolicyVersion.version.desc()).limit(1)
    )


async def publish(session: AsyncSession, text: str, published_by: str) -> PolicyVersion:
    # Two admins publishing at the same instant read the same last number; the loser's insert
    # meets the winner's committed row and simply takes the next number.
    for attempt in range(_PUBLISH_ATTEMPTS):
        last = await session.scalar(select(func.max(PolicyVersion.version)))
        version = PolicyVersion(version=(last or 0) + 1, text=text, published_by=published_by)
        try:
            async with session.begin_nested():
                session.add(version)
        except IntegrityError:
            if attempt == _PUBLISH_ATTEMPTS - 1:
                raise
            continue
        return version
    raise AssertionError("unreachable")


_PUBLISH_ATTEMPTS = 5


async def accepted_at(session: AsyncSession, account_id: int, version: int) -> datetime | None:
    return await session.scalar(
        select(PolicyAcceptance.accepted_at).where(
            PolicyAcceptance.account_id == account_id, PolicyAcceptance.version == version
        )
    )


async def accept(session: AsyncSession, account_id: int, version: int) -> None:
    """Record the acceptance; accepting twice keeps the first time."""
    await session.execute(
        upsert(session, PolicyAcceptance)
        .values(id=new_id(), account_id=account_id, version=version, accepted_at=utcnow())
        .on_conflict_do_nothing()
    )


async def needs_acceptance(session: AsyncSession, account_id: int) -> PolicyVersion | None:
    """The version this person must accept before writing, or None when they may write.

    One statement (the newest version and whether this person accepted it): every gated
    request asks."""
    accepted = (
        select(PolicyAcceptance.id)
        .where(
            PolicyAcceptance.account_id == account_id,
            PolicyAcceptance.version == PolicyVersion.version,
        )
        .exists()
    )
    row = (
        await session.execute(
            select(PolicyVersion, accepted).order_by(PolicyVersion.version.desc()).limit(1)
        )
    ).first()
    if row is None or row[1]:
        return None
    policy: PolicyVersion = row[0]
    return policy


@dataclass(frozen=True)
class Acceptance:
    username: str
    email: str
    role: str
    accepted_at: datetime | None


async def acceptances(session: AsyncSession, version: int) -> list[Acceptance]:
    """Every active local person and when (if at all) they accepted `version`; those who
    have not come first, then by name."""
    rows = await session.execute(
        select(Account.username, User.email, User.role, PolicyAcceptance.accepted_at)
        .join(User, User.account_id == Account.id)
        .outerjoin(
            PolicyAcceptance,
            (PolicyAcceptance.account_id == User.account_id)
            & (PolicyAcceptance.version == version),
        )
        .where(User.disabled.is_(False))
    )
    found = [Acceptance(str(u), e or "", str(r), at) for u, e, r, at in rows.all()]
    found.sort(key=lambda a: (a.accepted_at is not None, a.username))
    return found
