"""Reports: filing one (a person, another node's Flag, or the node itself), telling the
moderators, and forwarding a report about someone on another node to that node.

`file_report` is the one way a report comes into being; it runs in the caller's write
transaction and writes the `admin.report` notifications of everyone who holds
`manage_reports` in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from federation.allowlist import Allowlist
from models import admin
from models.account import Account, User
from models.base import utcnow
from models.moderation import CATEGORIES, Report
from models.notification import Notification
from models.settings import Settings
from models.status import Status
from outbox import events, render
from outbox.deliveries import enqueue, inbox_of
from outbox.permissions import AdminError, Operator, require
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


# --- forwarding -------------------------------------------------------------------------


def flag(
    settings: Settings, report: Report, target: Account, status_uris: list[str]
) -> dict[str, Any]:
    """The Flag that tells the target's node: sent by the instance actor, as Mastodon does,
    so that the reporter stays anonymous to the other node."""
    return render.with_context(
        {
            "id": settings.url(f"/reports/{report.id}"),
            "type": "Flag",
            "actor": render.instance_actor_uri(settings),
            "content": report.comment,
            "object": [render.actor_uri(settings, target), *status_uris],
        }
    )


async def forward_report(
    session: AsyncSession, settings: Settings, allowlist: Allowlist, report: Report
) -> int:
    """Send the report to the target's node when it asked to be forwarded and the target
    lives elsewhere; returns the deliveries queued (in the caller's transaction)."""
    target = await session.get(Account, report.target_account_id)
    if not report.forward or report.forwarded or target is None or target.is_local:
        return 0
    uris = []
    if report.status_ids:
        rows = await session.scalars(select(Status).where(Status.id.in_(report.status_ids)))
        uris = [render.status_uri(settings, target, s) for s in rows]
    activity = flag(settings, report, target, uris)
    queued = await enqueue(
        session, allowlist, actor=None, activity=activity, inboxes=[inbox_of(target)]
    )
    if queued:
        report.forwarded = True
        report.uri = activity["id"]
    return queued


# --- what moderators do with a report ---------------------------------------------------


class UnknownReport(AdminError):
    status = 404


async def _report(session: AsyncSession, operator: Operator, report_id: int) -> Report:
    require(operator, "manage_reports")
    report = await session.get(Report, report_id, with_for_update=True)
    if report is None:
        raise UnknownReport("Record not found")
    return report


def _record(
    session: AsyncSession, operator: Operator, action: str, report: Report, detail: str = ""
) -> None:
    admin.record(
        session,
        operator.name,
        action,
        f"report:{report.id}",
        detail,
        operator_account_id=operator.account_id,
    )


async def assign(
    session: AsyncSession, operator: Operator, report_id: int, *, to_self: bool
) -> Report:
    """Take the report (`to_self`) or give it back."""
    report = await _report(session, operator, report_id)
    wanted = operator.account_id if to_self else None
    if report.assigned_account_id != wanted:
        report.assigned_account_id = wanted
        report.updated_at = utcnow()
        _record(session, operator, "report.assign" if to_self else "report.unassign", report)
    return report


async def resolve(
    session: AsyncSession, operator: Operator, report_id: int, *, reason: str = ""
) -> Report:
    """Mark the report handled (whatever the moderator did about it)."""
    report = await _report(session, operator, report_id)
    if report.action_taken_at is None:
        report.action_taken_at = report.updated_at = utcnow()
        report.action_taken_by_account_id = operator.account_id
        _record(session, operator, "report.resolve", report, reason)
    return report


async def reopen(session: AsyncSession, operator: Operator, report_id: int) -> Report:
    report = await _report(session, operator, report_id)
    if report.action_taken_at is not None:
        report.action_taken_at = None
        report.action_taken_by_account_id = None
        report.updated_at = utcnow()
        _record(session, operator, "report.reopen", report)
    return report
