"""What `flurfunk deliveries` shows: pending and failed deliveries per peer host.

Hosts whose deliveries all went through do not appear: the report is for an operator asking
"what has not arrived, and why".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.federation import Delivery, OutboxActivity

OPEN = ("pending", "failed")


@dataclass(frozen=True)
class HostDeliveries:
    host: str
    pending: int
    retrying: int  # pending rows that have failed at least once
    failed: int
    next_attempt_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class FailedDelivery:
    host: str
    inbox_url: str
    activity_type: str
    activity_uri: str
    attempts: int
    failed_at: datetime | None
    last_error: str | None


def _on_host(host: str | None) -> ColumnElement[bool] | None:
    """`host` matches itself and, given without a port, every port of that host."""
    if not host:
        return None
    host = host.strip().lower()
    return or_(Delivery.host == host, Delivery.host.startswith(host + ":"))


async def per_host(session: AsyncSession, host: str | None = None) -> list[HostDeliveries]:
    pending = Delivery.state == "pending"
    query = (
        select(
            Delivery.host,
            func.sum(case((pending, 1), else_=0)),
            func.sum(case((pending & (Delivery.attempts > 0), 1), else_=0)),
            func.sum(case((Delivery.state == "failed", 1), else_=0)),
            func.min(case((pending, Delivery.next_attempt_at), else_=None)),
            func.max(case((Delivery.last_error.is_not(None), Delivery.id), else_=None)),
        )
        .where(Delivery.state.in_(OPEN))
        .group_by(Delivery.host)
        .order_by(Delivery.host)
    )
    condition = _on_host(host)
    if condition is not None:
        query = query.where(condition)
    rows = (await session.execute(query)).all()
    error_ids = [row[5] for row in rows if row[5] is not None]
    errors = dict(
        (
            await session.execute(
                select(Delivery.id, Delivery.last_error).where(Delivery.id.in_(error_ids))
            )
        ).all()
    )
    return [
        HostDeliveries(
            host=row[0],
            pending=int(row[1] or 0),
            retrying=int(row[2] or 0),
            failed=int(row[3] or 0),
            next_attempt_at=row[4],
            last_error=errors.get(row[5]),
        )
        for row in rows
    ]


async def failed(
    session: AsyncSession, host: str | None = None, limit: int = 500
) -> list[FailedDelivery]:
    query = (
        select(Delivery, OutboxActivity.type, OutboxActivity.uri)
        .join(OutboxActivity, OutboxActivity.id == Delivery.activity_id)
        .where(Delivery.state == "failed")
        .order_by(Delivery.done_at.desc(), Delivery.id.desc())
        .limit(limit)
    )
    condition = _on_host(host)
    if condition is not None:
        query = query.where(condition)
    return [
        FailedDelivery(d.host, d.inbox_url, kind, uri, d.attempts, d.done_at, d.last_error)
        for d, kind, uri in (await session.execute(query)).all()
    ]


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split()) or "-"


def _when(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "-"
    seconds = (moment - now).total_seconds()
    if seconds <= 0:
        return "now"
    if seconds < 120:
        return f"in {seconds:.0f} s"
    if seconds < 7200:
        return f"in {seconds / 60:.0f} min"
    return f"in {seconds / 3600:.1f} h"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Columns separated by at least two spaces (cells never contain two in a row)."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    return [
        "  ".join([*(cell.ljust(w) for cell, w in zip(r, widths, strict=False)), r[-1]]).rstrip()
        for r in [header, *rows]
    ]


def summary(hosts: list[HostDeliveries], now: datetime) -> list[str]:
    if not hosts:
        return ["no pending or failed deliveries"]
    return _table(
        ["HOST", "PENDING", "RETRYING", "FAILED", "NEXT ATTEMPT", "LAST ERROR"],
        [
            [
                h.host,
                str(h.pending),
                str(h.retrying),
                str(h.failed),
                _when(h.next_attempt_at, now) if h.pending else "-",
                _one_line(h.last_error),
            ]
            for h in hosts
        ],
    )


def failed_rows(rows: list[FailedDelivery]) -> list[str]:
    if not rows:
        return ["no failed deliveries"]
    return _table(
        ["FAILED AT", "HOST", "ACTIVITY", "INBOX", "ATTEMPTS", "LAST ERROR"],
        [
            [
                r.failed_at.strftime("%Y-%m-%d %H:%M:%S") if r.failed_at else "-",
                r.host,
                f"{r.activity_type} {r.activity_uri}",
                r.inbox_url,
                str(r.attempts),
                _one_line(r.last_error),
            ]
            for r in rows
        ],
    )
