"""What helps people find each other and what is talked about: the node's computed trends
(hashtags, posts, links), admins' verdicts on trending items, and the suggestions a user
dismissed.

Trends are a small table rewritten by one periodic job per node (outbox/trends.py); readers
only ever select from it. `trend_runs` holds one row: when the trends were last computed, so
that however many processes run the job, one of them computes per interval.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, Select, String, Text, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAt, UTCDateTime, utcnow

TREND_KINDS = ("tag", "status", "link")
VERDICTS = ("approved", "rejected")


class TrendItem(Base):
    """One trending item as last computed: `item_id` is the tag's or status's id, or for a
    link a stable number derived from its URL (`label`)."""

    __tablename__ = "trends"

    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    item_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    label: Mapped[str] = mapped_column(Text, default="", nullable=False)
    rank: Mapped[int] = mapped_column(Integer, nullable=False)
    accounts: Mapped[int] = mapped_column(Integer, nullable=False)  # distinct, recent window
    uses: Mapped[int] = mapped_column(Integer, nullable=False)
    # Newest day first: [{"day": unix seconds, "uses": n, "accounts": n}], as Mastodon's history.
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, nullable=False)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class TrendReview(Base):
    """An admin's verdict on a trending item; it outlives recomputations."""

    __tablename__ = "trend_reviews"

    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    item_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    label: Mapped[str] = mapped_column(Text, default="", nullable=False)
    verdict: Mapped[str] = mapped_column(String(16), nullable=False)
    reviewed_by: Mapped[str] = mapped_column(String(255), nullable=False)
    reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class TrendRun(Base):
    """The single row recording when this node's trends were last computed."""

    __tablename__ = "trend_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class SuggestionDismissal(CreatedAt, Base):
    """An account the user never wants suggested again."""

    __tablename__ = "suggestion_dismissals"

    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    target_account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )


def shown(kind: str, review_required: bool) -> Select[TrendItem]:
    """The trending items of `kind` that people see, best first: never one an admin rejected,
    and with `review_required` only those an admin approved."""
    verdict = (
        select(TrendReview.verdict)
        .where(TrendReview.kind == TrendItem.kind, TrendReview.item_id == TrendItem.item_id)
        .scalar_subquery()
    )
    query = select(TrendItem).where(TrendItem.kind == kind)
    if review_required:
        query = query.where(verdict == "approved")
    else:
        query = query.where(func.coalesce(verdict, "") != "rejected")
    return query.order_by(TrendItem.rank)


async def verdicts(session: AsyncSession, kind: str) -> dict[int, str]:
    rows = await session.execute(
        select(TrendReview.item_id, TrendReview.verdict).where(TrendReview.kind == kind)
    )
    return {item_id: verdict for item_id, verdict in rows}


async def judge(
    session: AsyncSession, item: TrendItem | TrendReview, verdict: str, by: str
) -> bool:
    """Record an admin's verdict on a trending item; False when it was already that."""
    assert verdict in VERDICTS
    review = await session.get(TrendReview, (item.kind, item.item_id))
    if review is None:
        session.add(
            TrendReview(
                kind=item.kind,
                item_id=item.item_id,
                label=item.label,
                verdict=verdict,
                reviewed_by=by,
            )
        )
        return True
    if review.verdict == verdict:
        return False
    review.verdict, review.reviewed_by, review.reviewed_at = verdict, by, utcnow()
    return True
