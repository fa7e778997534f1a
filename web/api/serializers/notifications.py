"""Notifications -> Mastodon's Notification entity, with their statuses presented in one batch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.account import Account
from models.moderation import AccountWarning, Appeal, Report
from models.notification import Notification
from models.notification_groups import group_key
from models.status import Status
from web.api.serializers.entities import account, iso
from web.api.serializers.links import Links
from web.api.serializers.moderation import report, warning
from web.api.serializers.statuses import statuses


async def notifications(
    session: AsyncSession, links: Links, rows: Sequence[Notification], viewer_id: int
) -> list[dict[str, Any]]:
    account_ids = {n.from_account_id for n in rows}
    status_ids = {n.status_id for n in rows if n.status_id}
    accounts = {}
    if account_ids:
        found = await session.execute(select(Account).where(Account.id.in_(account_ids)))
        accounts = {a.id: a for a in found.scalars()}
    status_rows: list[Status] = []
    if status_ids:
        status_rows = list(
            (await session.execute(select(Status).where(Status.id.in_(status_ids)))).scalars()
        )
    presented = {s["id"]: s for s in await statuses(session, links, status_rows, viewer_id)}
    moderation = await _moderation(session, links, rows)
    out = []
    for n in rows:
        if n.from_account_id not in accounts:
            continue
        entry = {
            "id": str(n.id),
            "type": n.type,
            "created_at": iso(n.created_at),
            "group_key": group_key(n.type, n.status_id, n.id),
            "account": account(accounts[n.from_account_id], links),
            "status": presented.get(str(n.status_id)) if n.status_id else None,
        }
        if n.report_id is not None:
            entry["report"] = moderation.get(("report", n.report_id))
        if n.warning_id is not None:
            entry["moderation_warning"] = moderation.get(("warning", n.warning_id))
        out.append(entry)
    return out


async def _moderation(
    session: AsyncSession, links: Links, rows: Sequence[Notification]
) -> dict[tuple[str, int], dict[str, Any]]:
    """The reports and warnings that `admin.report` and `moderation_warning` name."""
    report_ids = {n.report_id for n in rows if n.report_id is not None}
    warning_ids = {n.warning_id for n in rows if n.warning_id is not None}
    if not report_ids and not warning_ids:
        return {}
    found_reports = list(await session.scalars(select(Report).where(Report.id.in_(report_ids))))
    found_warnings = list(
        await session.scalars(select(AccountWarning).where(AccountWarning.id.in_(warning_ids)))
    )
    appeals = {
        a.warning_id: a
        for a in await session.scalars(select(Appeal).where(Appeal.warning_id.in_(warning_ids)))
    }
    targets = {r.target_account_id for r in found_reports} | {w.account_id for w in found_warnings}
    accounts = {
        a.id: a for a in await session.scalars(select(Account).where(Account.id.in_(targets)))
    }
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for r in found_reports:
        if r.target_account_id in accounts:
            out[("report", r.id)] = report(r, accounts[r.target_account_id], links)
    for w in found_warnings:
        if w.account_id in accounts:
            out[("warning", w.id)] = warning(w, accounts[w.account_id], appeals.get(w.id), links)
    return out
