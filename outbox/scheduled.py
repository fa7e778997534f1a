"""Statuses scheduled for later: kept with the parameters they were created with, posted
when due by whichever process claims them first."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.account import Account
from models.base import utcnow
from models.poll import ScheduledStatus
from outbox.polls import PollDraft

log = logging.getLogger("flurfunk.scheduled")

MIN_LEAD = timedelta(minutes=5)
MAX_PER_DAY = 25


class ScheduleProblem(ValueError):
    """Why a schedule is refused (a 422 for the client)."""


def draft_params(draft: Any) -> dict[str, Any]:
    """The JSON-able parameters of a statuses.Draft (without media and application)."""
    params = {
        k: v
        for k, v in dataclasses.asdict(draft).items()
        if k not in ("media_ids", "application_id", "idempotency_key")
    }
    return params


def params_draft(draft_type: type[Any], row: ScheduledStatus) -> Any:
    """Rebuild the Draft a scheduled status was created with."""
    values = dict(row.params)
    poll = values.pop("poll", None)
    return draft_type(
        **values,
        poll=PollDraft(**{**poll, "options": tuple(poll["options"])}) if poll else None,
        media_ids=tuple(row.media_ids),
        application_id=row.application_id,
        idempotency_key=None,
    )


async def schedule(
    session: AsyncSession, author: Account, at: datetime, draft: Any
) -> ScheduledStatus:
    if at < utcnow() + MIN_LEAD:
        raise ScheduleProblem("scheduled_at must be at least 5 minutes in the future")
    day = at.replace(hour=0, minute=0, second=0, microsecond=0)
    that_day = len(
        (
            await session.execute(
                select(ScheduledStatus.id).where(
                    ScheduledStatus.account_id == author.id,
                    ScheduledStatus.scheduled_at >= day,
                    ScheduledStatus.scheduled_at < day + timedelta(days=1),
                )
            )
        ).all()
    )
    if that_day >= MAX_PER_DAY:
        raise ScheduleProblem(f"at most {MAX_PER_DAY} statuses can be scheduled for one day")
    row = ScheduledStatus(
        account_id=author.id,
        scheduled_at=at,
        params=draft_params(draft),
        media_ids=list(draft.media_ids),
        application_id=draft.application_id,
    )
    session.add(row)
    await session.flush()
    return row


async def find(session: AsyncSession, author: Account, scheduled_id: int) -> ScheduledStatus:
    row = await session.get(ScheduledStatus, scheduled_id)
    if row is None or row.account_id != author.id:
        raise LookupError("no such scheduled status")
    return row


async def reschedule(
    session: AsyncSession, author: Account, scheduled_id: int, at: datetime
) -> ScheduledStatus:
    row = await find(session, author, scheduled_id)
    if at < utcnow() + MIN_LEAD:
        raise ScheduleProblem("scheduled_at must be at least 5 minutes in the future")
    row.scheduled_at = at
    return row


async def cancel(session: AsyncSession, author: Account, scheduled_id: int) -> None:
    await find(session, author, scheduled_id)
    await session.execute(delete(ScheduledStatus).where(ScheduledStatus.id == scheduled_id))


Publish = Callable[[AsyncSession, Account, ScheduledStatus], Awaitable[object]]


async def publish_due(session: AsyncSession, publish: Publish, limit: int = 20) -> int:
    """Post the due scheduled statuses (claimed with SKIP LOCKED) and remove their rows."""
    rows = (
        (
            await session.execute(
                select(ScheduledStatus)
                .where(ScheduledStatus.scheduled_at <= utcnow())
                .order_by(ScheduledStatus.scheduled_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        .scalars()
        .all()
    )
    for row in rows:
        author = await session.get(Account, row.account_id)
        if author is not None:
            try:
                async with session.begin_nested():
                    await publish(session, author, row)
            except ScheduleProblem as exc:
                # What can no longer be posted (its parent was deleted, say) is dropped, as
                # Mastodon does; retrying would fail the same way forever.
                log.info("scheduled status %s dropped: %s", row.id, exc)
        await session.delete(row)
    return len(rows)
