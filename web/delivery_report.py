"""What `flurfunk deliveries` and the admin page show: pending and failed deliveries per peer
host, and each peer's health over the last 24 hours.

In `per_host`, hosts whose deliveries all went through do not appear: that report is for an
operator asking "what has not arrived, and why". `peer_health` shows every peer that was
delivered to, failed or answered lately.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.federation import Delivery, OutboxActivity, PeerDeliveryHour, PeerHost
from outbox.hosts import hour_of

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
    id: int
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
        FailedDelivery(d.id, d.host, d.inbox_url, kind, uri, d.attempts, d.done_at, d.last_error)
        for d, kind, uri in (await session.execute(query)).all()
    ]


HOURS = 24


@dataclass(frozen=True)
class HourCount:
    hour: datetime  # its start
    delivered: int
    failed: int  # failed attempts, whether retried later or not


@dataclass(frozen=True)
class PeerHealth:
    host: str
    pending: int
    retrying: int
    failed: int  # failed for good: only an admin's retry sends them again
    last_success_at: datetime | None
    failing_since: datetime | None
    available: bool
    next_probe_at: datetime | None
    next_retry_at: datetime | None  # the back-off: when the first waiting retry is due
    last_error: str | None
    hours: list[HourCount]  # the last HOURS clock hours, oldest first, this one last

    @property
    def delivered_today(self) -> int:
        return sum(h.delivered for h in self.hours)

    @property
    def failed_today(self) -> int:
        return sum(h.failed for h in self.hours)


async def _retry_due(session: AsyncSession) -> dict[str, datetime]:
    rows = await session.execute(
        select(Delivery.host, func.min(Delivery.next_attempt_at))
        .where(Delivery.state == "pending", Delivery.attempts > 0)
        .group_by(Delivery.host)
    )
    return {host: due for host, due in rows.all()}


async def peer_health(session: AsyncSession, now: datetime) -> list[PeerHealth]:
    """Every peer host with open deliveries, attempts in the last HOURS hours, or a health
    record that changed in that time; by host name."""
    first = hour_of(now) - timedelta(hours=HOURS - 1)
    counted: dict[str, dict[datetime, tuple[int, int]]] = {}
    for host, hour, delivered, failed in (
        await session.execute(
            select(
                PeerDeliveryHour.host,
                PeerDeliveryHour.hour,
                PeerDeliveryHour.delivered,
                PeerDeliveryHour.failed,
            ).where(PeerDeliveryHour.hour >= first)
        )
    ).all():
        counted.setdefault(host, {})[hour] = (delivered, failed)
    since = now - timedelta(hours=HOURS)
    peers = {
        p.host: p
        for p in (
            await session.execute(
                select(PeerHost).where(
                    (PeerHost.last_success_at >= since)
                    | (PeerHost.last_failure_at >= since)
                    | PeerHost.available.is_(False)
                )
            )
        ).scalars()
    }
    open_rows = {h.host: h for h in await per_host(session)}
    retry_due = await _retry_due(session)
    names = sorted(set(counted) | set(peers) | set(open_rows))
    missing = [n for n in names if n not in peers]
    if missing:
        peers.update(
            (p.host, p)
            for p in (
                await session.execute(select(PeerHost).where(PeerHost.host.in_(missing)))
            ).scalars()
        )
    hours = [first + timedelta(hours=i) for i in range(HOURS)]
    result = []
    for name in names:
        peer, waiting, counts = peers.get(name), open_rows.get(name), counted.get(name, {})
        result.append(
            PeerHealth(
                host=name,
                pending=waiting.pending if waiting else 0,
                retrying=waiting.retrying if waiting else 0,
                failed=waiting.failed if waiting else 0,
                last_success_at=peer.last_success_at if peer else None,
                failing_since=peer.failing_since if peer else None,
                available=peer.available if peer else True,
                next_probe_at=peer.next_probe_at if peer and not peer.available else None,
                next_retry_at=retry_due.get(name),
                last_error=waiting.last_error if waiting else None,
                hours=[HourCount(h, *counts.get(h, (0, 0))) for h in hours],
            )
        )
    return result


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
