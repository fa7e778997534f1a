"""Moderation actions and their appeals.

Every action on an account (warn, disable, sensitive, silence, suspend) or on posts (delete,
mark sensitive) leaves an AccountWarning with the moderator's reason, which the affected
person gets as a `moderation_warning` notification and may appeal once. A moderator other
than the one who acted decides the appeal; approving lifts the action (a deleted post stays
deleted). Everything runs in the caller's write transaction and writes its audit entry there.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import admin
from models.account import Account, User
from models.base import utcnow
from models.moderation import AccountWarning, Appeal, Report
from models.status import Status
from outbox import statuses as status_actions
from outbox.context import Federation
from outbox.federate import update_note
from outbox.permissions import AdminError, NotPermitted, Operator, require
from outbox.reports import notify_moderation
from outbox.user_admin import disable, find, may_act_on
from outbox.user_admin import suspend as suspend_user

# The `type` of Mastodon's account action, and the warning's `action` for each.
ACCOUNT_ACTIONS = {
    "none": "none",
    "warn": "none",
    "disable": "disable",
    "sensitive": "sensitive",
    "silence": "silence",
    "suspend": "suspend",
}
STATUS_ACTIONS = {"delete": "delete_statuses", "sensitive": "mark_statuses_as_sensitive"}
TEXT_MAX = 5000
APPEAL_MAX = 2000
STATUSES_MAX = 100


class UnknownRecord(AdminError):
    status = 404


def _record(
    session: AsyncSession, operator: Operator, action: str, target: str, detail: str
) -> None:
    admin.record(
        session, operator.name, action, target, detail, operator_account_id=operator.account_id
    )


async def _report_about(
    session: AsyncSession, report_id: int | None, account: Account
) -> Report | None:
    if report_id is None:
        return None
    report = await session.get(Report, report_id, with_for_update=True)
    if report is None or report.target_account_id != account.id:
        raise AdminError(f"report {report_id} is not about {account.acct()}")
    return report


async def _warn(
    session: AsyncSession,
    operator: Operator,
    account: Account,
    action: str,
    text: str,
    report: Report | None,
    status_ids: Sequence[int] = (),
) -> AccountWarning:
    """Write the warning, tell the person, and close the report it came from."""
    warning = AccountWarning(
        account_id=account.id,
        moderator_account_id=operator.account_id,
        moderator=operator.name,
        action=action,
        text=text,
        status_ids=list(status_ids),
        report_id=report.id if report else None,
    )
    session.add(warning)
    await session.flush()
    await notify_moderation(
        session,
        recipient_id=account.id,
        from_account_id=account.id,
        type="moderation_warning",
        warning_id=warning.id,
    )
    if report is not None and report.action_taken_at is None:
        report.action_taken_at = report.updated_at = utcnow()
        report.action_taken_by_account_id = operator.account_id
        _record(session, operator, "report.resolve", f"report:{report.id}", f"warning:{warning.id}")
    return warning


async def act_on_account(
    session: AsyncSession,
    operator: Operator,
    account: Account,
    kind: str,
    text: str = "",
    *,
    report_id: int | None = None,
) -> AccountWarning:
    """Mastodon's account action on a local account, with its warning."""
    require(operator, "administer_users")
    if kind not in ACCOUNT_ACTIONS:
        raise AdminError(f"type must be one of {', '.join(ACCOUNT_ACTIONS)}")
    if len(text) > TEXT_MAX:
        raise AdminError(f"the text is longer than {TEXT_MAX} characters")
    if not account.is_local:
        raise AdminError("only this node's own accounts can be moderated here")
    report = await _report_about(session, report_id, account)
    name = account.username
    if kind == "suspend":
        await suspend_user(session, operator, name, text)
    elif kind == "disable":
        await disable(session, operator, name, text)
    else:
        _, user = await find(session, name)
        await may_act_on(session, operator, account, user)
        if kind == "silence" and account.silenced_at is None:
            account.silenced_at = utcnow()
        if kind == "sensitive" and account.sensitized_at is None:
            account.sensitized_at = utcnow()
        audited = "warn" if ACCOUNT_ACTIONS[kind] == "none" else kind
        _record(session, operator, f"account.{audited}", name, text)
    return await _warn(session, operator, account, ACCOUNT_ACTIONS[kind], text, report)


async def act_on_statuses(
    session: AsyncSession,
    fed: Federation | None,
    operator: Operator,
    kind: str,
    status_ids: Sequence[int],
    text: str = "",
    *,
    report_id: int | None = None,
) -> list[AccountWarning]:
    """Delete posts or mark them sensitive (as Mastodon's status batch actions), with one
    warning per author. Only posts of this node's accounts; the change federates."""
    require(operator, "manage_reports")
    if kind not in STATUS_ACTIONS:
        raise AdminError(f"type must be one of {', '.join(STATUS_ACTIONS)}")
    if len(text) > TEXT_MAX:
        raise AdminError(f"the text is longer than {TEXT_MAX} characters")
    wanted = list(dict.fromkeys(status_ids))
    if not wanted or len(wanted) > STATUSES_MAX:
        raise AdminError(f"name between 1 and {STATUSES_MAX} posts")
    rows = list(await session.scalars(select(Status).where(Status.id.in_(wanted))))
    found = {s.id: s for s in rows}
    missing = [i for i in wanted if i not in found]
    if missing:
        raise UnknownRecord(f"no post {missing[0]}")
    by_author: dict[int, list[Status]] = {}
    for status in rows:
        if not status.local:
            raise AdminError(f"post {status.id} is another node's: report it there")
        by_author.setdefault(status.account_id, []).append(status)
    warnings = []
    for author_id, posts in by_author.items():
        author = await session.get(Account, author_id)
        if author is None:
            raise UnknownRecord(f"no account {author_id}")
        _, user = await find(session, author.username)
        await may_act_on(session, operator, author, user)
        report = await _report_about(session, report_id, author) if report_id else None
        for status in posts:
            if kind == "delete":
                await status_actions.delete_status(
                    session, author, status.id, fed=fed, by="moderation"
                )
            elif not status.sensitive:
                status.sensitive = True
                status.edited_at = utcnow()
                await update_note(session, fed, author, status)
        ids = [s.id for s in posts]
        _record(
            session,
            operator,
            f"status.{'delete' if kind == 'delete' else 'sensitive'}",
            author.username,
            f"posts={','.join(map(str, ids))} {text}".strip(),
        )
        warnings.append(
            await _warn(session, operator, author, STATUS_ACTIONS[kind], text, report, ids)
        )
    return warnings


# --- appeals ------------------------------------------------------------------------------


async def appeal(session: AsyncSession, account: Account, warning_id: int, text: str) -> Appeal:
    """The affected person appeals one of their warnings (once)."""
    text = text.strip()
    if not text:
        raise AdminError("text is missing: say why the decision should be reconsidered")
    if len(text) > APPEAL_MAX:
        raise AdminError(f"the text is longer than {APPEAL_MAX} characters")
    warning = await session.get(AccountWarning, warning_id)
    if warning is None or warning.account_id != account.id:
        raise UnknownRecord("Record not found")
    if warning.action == "none":
        raise AdminError("a warning without an action has nothing to appeal")
    existing = await session.scalar(select(Appeal).where(Appeal.warning_id == warning.id))
    if existing is not None:
        raise AdminError("this decision has been appealed already")
    found = Appeal(account_id=account.id, warning_id=warning.id, text=text)
    session.add(found)
    await session.flush()
    return found


async def _decidable(
    session: AsyncSession, operator: Operator, appeal_id: int
) -> tuple[Appeal, AccountWarning]:
    require(operator, "manage_reports")
    found = await session.get(Appeal, appeal_id, with_for_update=True)
    if found is None:
        raise UnknownRecord("Record not found")
    warning = await session.get(AccountWarning, found.warning_id)
    assert warning is not None  # the appeal goes with its warning
    same = (
        operator.account_id == warning.moderator_account_id
        if operator.account_id is not None or warning.moderator_account_id is not None
        else operator.name == warning.moderator  # both from the command line
    )
    if same:
        raise NotPermitted(
            "You took this action yourself: another moderator must decide its appeal"
        )
    if operator.account_id is not None and operator.account_id == found.account_id:
        raise NotPermitted("You cannot decide your own appeal: another moderator must")
    if found.state != "pending":
        raise AdminError(f"this appeal was {found.state} already")
    return found, warning


async def approve(
    session: AsyncSession, operator: Operator, appeal_id: int, fed: Federation | None = None
) -> Appeal:
    """Approve the appeal and lift the action it answers (posts no longer sensitive are
    updated on the nodes that have them, as marking them was)."""
    found, warning = await _decidable(session, operator, appeal_id)
    account = await session.get(Account, warning.account_id)
    if account is None:
        raise UnknownRecord("Record not found")
    await _lift(session, account, warning, fed)
    found.approved_at = warning.lifted_at = utcnow()
    found.decided_by_account_id = operator.account_id
    _record(session, operator, "appeal.approve", account.acct(), f"warning:{warning.id}")
    return found


async def reject(session: AsyncSession, operator: Operator, appeal_id: int) -> Appeal:
    found, warning = await _decidable(session, operator, appeal_id)
    account = await session.get(Account, warning.account_id)
    found.rejected_at = utcnow()
    found.decided_by_account_id = operator.account_id
    target = account.acct() if account else str(warning.account_id)
    _record(session, operator, "appeal.reject", target, f"warning:{warning.id}")
    return found


async def _lift(
    session: AsyncSession, account: Account, warning: AccountWarning, fed: Federation | None
) -> None:
    """Undo what the warning's action did, as far as it can be undone."""
    # The appeal's decider may lack the rank to act on the account directly: the decision
    # is the authority here, so the state is changed without user_admin's rank check.
    user = await session.get(User, account.id)
    if warning.action == "suspend":
        account.suspended_at = None
        account.suspension_reason = None
    elif warning.action == "disable" and user is not None:
        user.disabled = False
    elif warning.action == "silence":
        account.silenced_at = None
    elif warning.action == "sensitive":
        account.sensitized_at = None
    elif warning.action == "mark_statuses_as_sensitive" and warning.status_ids:
        marked = await session.scalars(
            select(Status).where(
                Status.id.in_(warning.status_ids),
                Status.account_id == account.id,
                Status.sensitive.is_(True),
            )
        )
        for status in list(marked):
            status.sensitive = False
            status.edited_at = utcnow()
            await update_note(session, fed, account, status)
