"""The audit log for compliance: entries as the API, the CLI and the page show them, and
exports (JSON or CSV), which are themselves recorded in the log.

The log is append-only: no code path updates or deletes an entry, and database triggers
(migration 0021) refuse UPDATE and DELETE on its tables, so a stray statement fails too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from models import admin
from models.admin import AuditQuery
from outbox.permissions import Operator, require
from outbox.spreadsheet_csv import csv_text

COLUMNS = ("id", "created_at", "actor", "action", "target", "reason")
FORMATS = ("json", "csv")


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def entry(row: Row[Any]) -> dict[str, str]:
    """One entry: `actor` is the acct of who acted (`name`, `name@host`) or `cli:USER`."""
    return {
        "id": str(row.id),
        "created_at": _iso(row.created_at),
        "actor": row.actor,
        "action": row.action,
        "target": row.target,
        "reason": row.reason or "",
    }


def as_json(entries: list[dict[str, str]]) -> str:
    return orjson.dumps(entries, option=orjson.OPT_INDENT_2).decode() + "\n"


def as_csv(entries: list[dict[str, str]]) -> str:
    return csv_text(COLUMNS, ([e[c] for c in COLUMNS] for e in entries))


async def export(
    session: AsyncSession, operator: Operator, fmt: str, since: datetime | None = None
) -> str:
    """Every entry since `since` (oldest first) as `fmt`; the export is recorded first, so
    it is part of what it exports. Needs `view_audit_log`."""
    require(operator, "view_audit_log")
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    scope = f"since {_iso(since)}" if since else "everything"
    admin.record(
        session,
        operator.name,
        "audit.export",
        fmt,
        scope,
        operator_account_id=operator.account_id,
    )
    await session.flush()
    rows = await admin.audit_entries(session, AuditQuery(since=since))
    entries = [entry(r) for r in reversed(rows)]
    return as_json(entries) if fmt == "json" else as_csv(entries)
