"""Peer host health: a host is unavailable only after failing for an hour, then probed every
ten minutes; a success, or any activity received from it, makes it available again and its
waiting deliveries due at once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.db import upsert
from models.federation import Delivery, PeerDeliveryHour, PeerHost
from outbox.retry import PROBE_INTERVAL, UNAVAILABLE_AFTER


async def _host(session: AsyncSession, host: str) -> PeerHost:
    row = await session.get(PeerHost, host)
    if row is None:
        # Insert-or-ignore: another process may be creating the same host row right now.
        await session.execute(
            upsert(session, PeerHost)
            .values(host=host, available=True)
            .on_conflict_do_nothing(index_elements=["host"])
        )
        row = await session.get(PeerHost, host)
        assert row is not None
    return row


async def host_is_alive(session: AsyncSession, host: str, now: datetime) -> None:
    """After a success (or an activity received from it): available, waiting rows due now."""
    row = await _host(session, host)
    recovering = not row.available or row.failing_since is not None
    row.available = True
    row.failing_since = None
    row.next_probe_at = None
    row.last_success_at = now
    if recovering:
        await session.execute(
            update(Delivery)
            .where(
                Delivery.host == host, Delivery.state == "pending", Delivery.next_attempt_at > now
            )
            .values(next_attempt_at=now)
        )


async def host_failed(session: AsyncSession, host: str, now: datetime) -> PeerHost:
    row = await _host(session, host)
    row.last_failure_at = now
    if row.failing_since is None:
        row.failing_since = now
    if now - row.failing_since >= UNAVAILABLE_AFTER:
        row.available = False
        row.next_probe_at = now + PROBE_INTERVAL
    return row


async def unavailable_hosts(
    session: AsyncSession, hosts: Iterable[str]
) -> dict[str, datetime | None]:
    """Hosts among `hosts` that are marked unavailable, with their next probe time."""
    wanted = set(hosts)
    if not wanted:
        return {}
    rows = await session.execute(
        select(PeerHost.host, PeerHost.next_probe_at).where(
            PeerHost.host.in_(wanted), PeerHost.available.is_(False)
        )
    )
    return {host: probe for host, probe in rows.all()}


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


async def count_attempts(
    session: AsyncSession, delivered: Counter[str], failed: Counter[str], now: datetime
) -> None:
    """Add a batch's attempts per host to this hour's counters: one statement for the batch,
    which adds to what other workers counted in the same hour."""
    hosts = sorted(set(delivered) | set(failed))
    if not hosts:
        return
    hour = hour_of(now)
    insert = upsert(session, PeerDeliveryHour)
    await session.execute(
        insert.values(
            [
                {"host": h, "hour": hour, "delivered": delivered[h], "failed": failed[h]}
                for h in hosts
            ]
        ).on_conflict_do_update(
            index_elements=["host", "hour"],
            set_={
                "delivered": PeerDeliveryHour.delivered + insert.excluded.delivered,
                "failed": PeerDeliveryHour.failed + insert.excluded.failed,
            },
        )
    )


HOURS_KEPT = timedelta(days=7)


async def forget_old_hours(session: AsyncSession, now: datetime) -> None:
    """Drop hourly counters older than HOURS_KEPT (the page shows a day; a week is spare)."""
    await session.execute(delete(PeerDeliveryHour).where(PeerDeliveryHour.hour < now - HOURS_KEPT))
