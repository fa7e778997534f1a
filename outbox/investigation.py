"""The investigation export: everything of one account in a time range (direct messages and
posts hidden under legal hold included) as a zip with a SHA-256 manifest (outbox.archive);
or everything posted in one local group (`export_group`: its actor, every post in it, hidden
ones included, its members and the attachments).

Needs the permission `export_data`; every export is in the audit log (`export.account` or
`export.group`, with the range) before anything is read, so that no export goes unrecorded.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from models import admin
from models.db import Database
from models.settings import Settings
from outbox import archive, legal_holds
from outbox.archive import Window
from outbox.permissions import AdminError, Operator, require
from outbox.render import when


async def export_account(
    db: Database, settings: Settings, operator: Operator, target: str, window: Window, out: Path
) -> int:
    """Write the export of `target` (NAME or NAME@HOST) to `out`; returns its size in bytes."""
    require(operator, "export_data")
    if window.since and window.until and window.since >= window.until:
        raise AdminError("--since must be earlier than --until")
    async with db.write() as session:
        account = await legal_holds.find_account(session, settings, target)
        acct = account.acct()
        span = f"since={_at(window.since)} until={_at(window.until)}"
        admin.record(
            session,
            operator.name,
            "export.account",
            acct,
            span,
            operator_account_id=operator.account_id,
        )
    async with db.read() as session:
        contents = await archive.collect(session, settings, account, window, hidden=True)
    manifest = {
        "account": acct if account.domain else f"{acct}@{settings.domain}",
        "since": window.since and when(window.since),
        "until": window.until and when(window.until),
        "exported_by": operator.name,
        "activities": len(contents.activities),
    }
    return await asyncio.to_thread(archive.write, contents, out, manifest=manifest)


async def export_group(
    db: Database, settings: Settings, operator: Operator, target: str, window: Window, out: Path
) -> int:
    """Write the export of the local group `target` (NAME or group:NAME) to `out`; returns
    its size in bytes."""
    require(operator, "export_data")
    if window.since and window.until and window.since >= window.until:
        raise AdminError("--since must be earlier than --until")
    name = target.strip()
    if name[: len(legal_holds.GROUP_PREFIX)].lower() == legal_holds.GROUP_PREFIX:
        name = name[len(legal_holds.GROUP_PREFIX) :]
    async with db.write() as session:
        group = await legal_holds.find_group_account(session, settings, name)
        label = legal_holds.label(group)
        span = f"since={_at(window.since)} until={_at(window.until)}"
        admin.record(
            session,
            operator.name,
            "export.group",
            label,
            span,
            operator_account_id=operator.account_id,
        )
    async with db.read() as session:
        contents = await archive.collect_group(session, settings, group, window)
    manifest = {
        "group": f"{group.username}@{settings.domain}",
        "since": window.since and when(window.since),
        "until": window.until and when(window.until),
        "exported_by": operator.name,
        "activities": len(contents.activities),
        "members": len(contents.documents["members.json"]["orderedItems"]),
    }
    return await asyncio.to_thread(archive.write, contents, out, manifest=manifest)


def _at(moment: object) -> str:
    return "-" if moment is None else str(moment)
