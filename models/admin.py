"""What admins keep about their node: the audit log of admin actions, and the node's own
description (name, description, contact, rules) that /api/v1/instance shows.

The audit log is kept for accounts (suspend, role, delete, …) and node settings; allowlist
changes keep their own log (models.allowlist), which `audit_log` merges in, so that admins
read one history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    Row,
    String,
    Subquery,
    Text,
    delete,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAt, TimeOrderedId, UTCDateTime, utcnow
from models.federation import AllowlistAudit


class AdminAction(TimeOrderedId, CreatedAt, Base):
    """One thing an operator did: `action` (`user.suspend`, `node.rule_add`, …) to `target`."""

    __tablename__ = "admin_actions"

    operator: Mapped[str] = mapped_column(String(255), nullable=False)
    # The operator's local account when the action came from the web pages (None: the CLI).
    operator_account_id: Mapped[int | None] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(32), nullable=False)
    target: Mapped[str] = mapped_column(String(255), nullable=False)
    detail: Mapped[str] = mapped_column(Text, default="", nullable=False)


class NodeSetting(Base):
    """One admin-set fact about the node (`name`, `description`, `contact_email`)."""

    __tablename__ = "node_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class NodeRule(TimeOrderedId, CreatedAt, Base):
    """A server rule as Mastodon shows them: text, and an optional longer hint."""

    __tablename__ = "node_rules"

    text: Mapped[str] = mapped_column(Text, nullable=False)
    hint: Mapped[str] = mapped_column(Text, default="", nullable=False)
    position: Mapped[int] = mapped_column(Integer, default=0, nullable=False)


def record(
    session: AsyncSession,
    operator: str,
    action: str,
    target: str,
    detail: str = "",
    *,
    operator_account_id: int | None = None,
) -> None:
    """Add an audit entry in the caller's transaction (so it exists exactly if the change does)."""
    session.add(
        AdminAction(
            operator=operator,
            operator_account_id=operator_account_id,
            action=action,
            target=target,
            detail=detail,
        )
    )


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    operator: str
    action: str
    target: str
    detail: str = ""


async def audit_log(session: AsyncSession, limit: int = 100) -> list[AuditEntry]:
    """The newest entries first: admin actions and allowlist changes together."""
    actions = await session.execute(
        select(AdminAction).order_by(AdminAction.id.desc()).limit(limit)
    )
    allowlist = await session.execute(
        select(AllowlistAudit).order_by(AllowlistAudit.id.desc()).limit(limit)
    )
    entries = [
        AuditEntry(a.created_at, a.operator, a.action, a.target, a.detail)
        for a in actions.scalars()
    ]
    entries += [
        AuditEntry(a.created_at, a.actor, f"allowlist.{a.action}", a.pattern)
        for a in allowlist.scalars()
    ]
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit]


# --- the node's description -------------------------------------------------------------

NODE_KEYS = ("name", "description", "contact_email")
# Set by those with `manage_compliance` (outbox.compliance), not on /admin/node.
COMPLIANCE_KEYS = ("confidentiality_reminder",)


async def node_settings(session: AsyncSession) -> dict[str, str]:
    rows = await session.execute(select(NodeSetting.key, NodeSetting.value))
    return {str(key): str(value) for key, value in rows.all()}


async def node_settings_updated(session: AsyncSession) -> datetime | None:
    """When the admin last changed the node's description (None: never)."""
    return await session.scalar(select(func.max(NodeSetting.updated_at)))


async def set_node_setting(session: AsyncSession, key: str, value: str) -> None:
    """Set (or, with an empty value, clear) one of NODE_KEYS or COMPLIANCE_KEYS."""
    assert key in NODE_KEYS or key in COMPLIANCE_KEYS
    await session.execute(delete(NodeSetting).where(NodeSetting.key == key))
    if value:
        session.add(NodeSetting(key=key, value=value, updated_at=utcnow()))
    await session.flush()


async def rules(session: AsyncSession) -> list[NodeRule]:
    rows = await session.execute(select(NodeRule).order_by(NodeRule.position, NodeRule.id))
    return list(rows.scalars())


async def add_rule(session: AsyncSession, text: str, hint: str = "") -> NodeRule:
    last = await session.scalar(select(NodeRule.position).order_by(NodeRule.position.desc()))
    rule = NodeRule(text=text, hint=hint, position=(last or 0) + 1)
    session.add(rule)
    await session.flush()
    return rule


async def remove_rule(session: AsyncSession, rule_id: int) -> NodeRule | None:
    rule = await session.get(NodeRule, rule_id)
    if rule is not None:
        await session.delete(rule)
        await session.flush()
    return rule


# --- reading the audit log ----------------------------------------------------------------


@dataclass(frozen=True)
class AuditQuery:
    """Filters and a page of the audit log (ids are time-ordered across both tables)."""

    since: datetime | None = None
    actor: str | None = None
    action: str | None = None  # `user.suspend`, or `user` for every user.* word
    max_id: int | None = None
    since_id: int | None = None
    min_id: int | None = None
    limit: int | None = None


def _both_logs() -> Subquery:
    actions = select(
        AdminAction.id,
        AdminAction.created_at,
        AdminAction.operator.label("actor"),
        AdminAction.action,
        AdminAction.target,
        AdminAction.detail.label("reason"),
    )
    allowlist = select(
        AllowlistAudit.id,
        AllowlistAudit.created_at,
        AllowlistAudit.actor,
        (literal("allowlist.") + AllowlistAudit.action).label("action"),
        AllowlistAudit.pattern.label("target"),
        literal("").label("reason"),
    )
    return union_all(actions, allowlist).subquery("audit")


async def audit_entries(session: AsyncSession, query: AuditQuery) -> list[Row[Any]]:
    """Rows (id, created_at, actor, action, target, reason) of both logs, newest first (with
    `min_id`, the ones right after it)."""
    log = _both_logs()
    statement = select(log)
    if query.since is not None:
        # Both tables store naive UTC (models.base.UTCDateTime).
        statement = statement.where(log.c.created_at >= query.since.replace(tzinfo=None))
    if query.actor:
        statement = statement.where(log.c.actor == query.actor)
    if query.action:
        statement = statement.where(
            or_(
                log.c.action == query.action,
                log.c.action.startswith(query.action + ".", autoescape=True),
            )
        )
    if query.max_id is not None:
        statement = statement.where(log.c.id < query.max_id)
    if query.since_id is not None:
        statement = statement.where(log.c.id > query.since_id)
    if query.min_id is not None:
        statement = statement.where(log.c.id > query.min_id).order_by(log.c.id.asc())
    else:
        statement = statement.order_by(log.c.id.desc())
    if query.limit is not None:
        statement = statement.limit(query.limit)
    rows = list((await session.execute(statement)).all())
    return rows[::-1] if query.min_id is not None else rows
