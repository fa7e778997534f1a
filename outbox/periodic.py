"""Jobs that run every few seconds: publishing scheduled statuses, announcing ended polls."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from models.account import Account
from models.poll import ScheduledStatus
from outbox import announcement_federation, personal_archive, poll_federation
from outbox.context import Federation
from outbox.polls import announce_ended
from outbox.scheduled import ScheduleProblem, params_draft, publish_due
from outbox.status_parts import StatusProblem
from outbox.statuses import Draft, post_status

INTERVAL = 5.0


async def publish_scheduled(fed: Federation) -> int:
    """Post every scheduled status that is due; returns how many were handled."""

    async def publish(session: AsyncSession, author: Account, row: ScheduledStatus) -> None:
        try:
            await post_status(session, fed.settings, author, params_draft(Draft, row), fed=fed)
        except StatusProblem as exc:
            raise ScheduleProblem(str(exc)) from None

    async with fed.db.write() as session:
        handled = await publish_due(session, publish)
    if handled:
        fed.wake_deliveries()
    return handled


async def close_polls(fed: Federation) -> int:
    """Announce ended polls to their voters, and send the final counts of local ones."""
    async with fed.db.write() as session:
        ended = await announce_ended(session)
        await poll_federation.closed(session, fed, ended)
    if ended:
        fed.wake_deliveries()
    return len(ended)


async def build_archives(fed: Federation) -> int:
    """Prepare the personal archives people asked for (outbox.personal_archive)."""
    return await personal_archive.build_pending(fed.db, fed.settings)


async def report_announcement_reads(fed: Federation) -> int:
    """Send each announcing node one batch of the reads of its announcements since the last."""
    async with fed.db.write() as session:
        sent = await announcement_federation.report_reads(session, fed.settings, fed.allowlist())
    if sent:
        fed.wake_deliveries()
    return sent
