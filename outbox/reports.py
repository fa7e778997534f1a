"""Reports: filing one (a person, another node's Flag, or the node itself), telling the
moderators, and forwarding a report about someone on another node to that node.

`file_report` is the one way a report comes into being; it runs in the caller's write
transaction and writes the `admin.report` notifications of everyone who holds
`manage_reports` in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.account import Account, User
from models.base import utcnow
from models.moderation import CATEGORIES, Report
from models.notification import Notification
from models.status import Status
from outbox import events
from outbox.permissions import AdminError
from outbox.push_subscriptions import queue_pushes
from outbox.roles import all_roles

COMMENT_MAX = 1000  # as Mastodon, for reports filed here
REMOTE_COMMENT_MAX = 5000  # a Flag's content from another node (longer ones are refused)
STATUSES_MAX = 100
RULES_MAX = 50


class ReportError(AdminError):
    """The report cannot be filed as asked (422 with the reason)."""


async def moderators(session: AsyncSession) -> list[Account]:
    """Local people whose role holds `manage_reports` and who can act (not suspended or
    disabled)."""
    names = [r.name for r in await all_roles(session) if "manage_reports" in r.permissions]
    rows = await session.scalars(
        select(Account)
        .join(User, User.account_id == Account.id)
        .where(
            User.role.in_(names),
            User.disabled.is_(False),
            Account.suspended_at.is_(None),
            Account.domain.is_(None),
        )
    )
    return list(rows)


async def notify_moderation(
    session: AsyncSession,
    *,
    recipient_id: int,
    from_account_id: int,
    type: str,
    report_id: int | None = None,
    warning_id: int | None = None,
) -> Notification:
    """A moderation notification: never muted, blocked or filtered away (outbox.notify's
    checks are for what people do to each other)."""
    row = Notification(
        account_id=recipient_id,
        from_account_id=from_account_id,
        type=type,
        report_id=report_id,
        warning_id=warning_id,
    )
    session.add(row)
    await session.flush()
    events.notified(session, row)
    await queue_pushes(session, row)
    return row


async def _statuses_of(
    session: AsyncSession, target: Account, status_ids: Sequence[int]
) -> list[int]:
    wanted = list(dict.fromkeys(status_ids))
    if len(wanted) > STATUSES_MAX:
        raise ReportError(f"a report names at most {STATUSES_MAX} posts")
    if not wanted:
        return []
    found = set(
        await session.scalars(
            select(Status.id).where(Status.id.in_(wanted), Status.account_id == target.id)
        )
    )
    missing = [i for i in wanted if i not in found]
    if missing:
        raise ReportError(f"post {missing[0]} is not one of the reported account's posts")
    return wanted


async def file_report(
    session: AsyncSession,
    *,
    reporter: Account | None,
    target: Account,
    status_ids: Sequence[int] = (),
    category: str = "other",
    comment: str = "",
    forward: bool = False,
    rule_ids: Sequence[int] = (),
    uri: str | None = None,
    comment_max: int = COMMENT_MAX,
) -> Report:
    """File a report about `target` (and some of its posts) and notify the moderators.

    `reporter` None: the node itself reports (a compliance match). `uri`: the Flag's id when
    another node sent it. The posts must be the target's; ReportError says what is wrong.
    Forwarding is `forward_report`'s, once the report exists.
    """
    if category not in CATEGORIES:
        raise ReportError(f"category must be one of {', '.join(CATEGORIES)}")
    if len(comment) > comment_max:
        raise ReportError(f"the comment is longer than {comment_max} characters")
    if reporter is not None and reporter.id == target.id:
        raise ReportError("you cannot report yourself")
    if len(rule_ids) > RULES_MAX:
        raise ReportError(f"a report names at most {RULES_MAX} rules")
    report = Report(
        account_id=reporter.id if reporter else None,
        target_account_id=target.id,
        status_ids=await _statuses_of(session, target, status_ids),
        rule_ids=list(dict.fromkeys(rule_ids)),
        category=category,
        comment=comment,
        forward=forward and not target.is_local,
        uri=uri,
        updated_at=utcnow(),
    )
    session.add(report)
    await session.flush()
    for moderator in await moderators(session):
        if moderator.id in (target.id, report.account_id):
            continue
        await notify_moderation(
            session,
            recipient_id=moderator.id,
            from_account_id=report.account_id or target.id,
            type="admin.report",
            report_id=report.id,
        )
    return report
