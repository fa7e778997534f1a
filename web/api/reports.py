"""Reports: Mastodon's `POST /api/v1/reports` for everyone, and the admin reports API
(`/api/v1/admin/reports`: list, show, assign_to_self, unassign, resolve, reopen) for those
whose role holds `manage_reports`.

A report about someone on another node, filed with `forward: true`, is sent to that node as a
Flag from this node's instance actor in the report's transaction (outbox.reports).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from federation.allowlist import Allowlist
from models.account import Account, User
from models.admin import NodeRule
from models.moderation import Report
from models.status import Status
from outbox import reports, roles
from outbox.permissions import AdminError, Operator, Role, require
from web.api import serializers
from web.api.accounts import account_or_404
from web.api.admin_accounts import entity as admin_account
from web.api.base import Call, call, ok, page_of, paginated
from web.api.errors import not_found, validation
from web.api.federating import wake_deliveries
from web.api.params import parse_id
from web.api.policy_gate import policy_gated
from web.api.roles import operator, refused
from web.api.serializers import moderation as entities
from web.api.statuses import readable_status

ADMIN = "/api/v1/admin/reports"
READ, WRITE = "admin:read:reports", "admin:write:reports"
PAGE, PAGE_MAX = 100, 200  # as Mastodon


async def _rule_ids(c: Call, session: AsyncSession) -> list[int]:
    wanted = c.params.ids("rule_ids")
    if len(wanted) > reports.RULES_MAX:
        raise validation(f"a report names at most {reports.RULES_MAX} rules")
    if wanted:
        known = set(await session.scalars(select(NodeRule.id).where(NodeRule.id.in_(wanted))))
        unknown = [i for i in wanted if i not in known]
        if unknown:
            raise validation(f"rule {unknown[0]} is not one of this node's rules")
    return wanted


@policy_gated
async def create(request: Request) -> Response:
    c = await call(request, "write:reports")
    if "account_id" not in c.params:
        raise validation("account_id is missing")
    comment = c.params.text("comment", "", max_length=reports.COMMENT_MAX) or ""
    category = c.params.text("category", None, max_length=16)
    forward = c.params.flag("forward")
    status_ids = c.params.ids("status_ids")
    if len(status_ids) > reports.STATUSES_MAX:
        raise validation(f"a report names at most {reports.STATUSES_MAX} posts")
    node = c.node
    allowed = node.federation.allowlist() if node.federation else Allowlist()
    try:
        async with node.db.write() as session:
            target = await account_or_404(session, c.params.raw("account_id"))
            for status_id in status_ids:  # only what the reporter can see
                await readable_status(c, session, status_id)
            rule_ids = await _rule_ids(c, session)
            report = await reports.file_report(
                session,
                reporter=c.account,
                target=target,
                status_ids=status_ids,
                category=category or ("violation" if rule_ids else "other"),
                comment=comment,
                forward=forward,
                rule_ids=rule_ids,
            )
            await reports.forward_report(session, node.settings, allowed, report)
            answer = entities.report(report, target, c.node.links())
    except AdminError as exc:
        raise refused(exc) from None
    wake_deliveries(c)
    return ok(answer)


# --- the admin API ----------------------------------------------------------------------


async def _moderator(c: Call) -> Operator:
    who = await operator(c)
    try:
        require(who, "manage_reports")
    except AdminError as exc:
        raise refused(exc) from None
    return who


async def present_admin(c: Call, session: AsyncSession, rows: list[Report]) -> list[dict[str, Any]]:
    """Mastodon's Admin::Report for each report (a report the node filed itself has
    `account: null`)."""
    account_ids = {
        i
        for r in rows
        for i in (
            r.account_id,
            r.target_account_id,
            r.assigned_account_id,
            r.action_taken_by_account_id,
        )
        if i is not None
    }
    found = await session.execute(
        select(Account, User)
        .outerjoin(User, User.account_id == Account.id)
        .where(Account.id.in_(account_ids))
    )
    by_role: dict[str, Role] = {r.name: r for r in await roles.all_roles(session)}
    accounts = {
        a.id: admin_account(c, a, u, by_role.get(u.role) if u else None) for a, u in found.all()
    }
    status_ids = {i for r in rows for i in r.status_ids}
    statuses: dict[str, dict[str, Any]] = {}
    if status_ids:
        status_rows = list(await session.scalars(select(Status).where(Status.id.in_(status_ids))))
        presented = await serializers.statuses(session, c.node.links(), status_rows, c.viewer_id)
        statuses = {s["id"]: s for s in presented}
    rules = {r.id: r for r in await session.scalars(select(NodeRule))}
    return [
        {
            "id": str(r.id),
            "action_taken": r.action_taken_at is not None,
            "action_taken_at": serializers.iso(r.action_taken_at),
            "category": r.category,
            "comment": r.comment,
            "forwarded": r.forwarded,
            "created_at": serializers.iso(r.created_at),
            "updated_at": serializers.iso(r.updated_at),
            "account": accounts.get(r.account_id) if r.account_id else None,
            "target_account": accounts.get(r.target_account_id),
            "assigned_account": accounts.get(r.assigned_account_id)
            if r.assigned_account_id
            else None,
            "action_taken_by_account": accounts.get(r.action_taken_by_account_id)
            if r.action_taken_by_account_id
            else None,
            "statuses": [statuses[str(i)] for i in r.status_ids if str(i) in statuses],
            "rules": [
                {"id": str(i), "text": rules[i].text, "hint": rules[i].hint}
                for i in r.rule_ids
                if i in rules
            ],
        }
        for r in rows
    ]


async def listing(request: Request) -> Response:
    c = await call(request, READ)
    await _moderator(c)
    p = c.params
    page = page_of(p, PAGE, PAGE_MAX)
    query = select(Report)
    if p.flag("resolved"):
        query = query.where(Report.action_taken_at.is_not(None))
    else:  # as Mastodon: unresolved reports unless asked otherwise
        query = query.where(Report.action_taken_at.is_(None))
    for name, column in (
        ("account_id", Report.account_id),
        ("target_account_id", Report.target_account_id),
    ):
        if p.raw(name) not in (None, ""):
            query = query.where(column == parse_id(p.raw(name)))
    async with c.node.db.read() as session:
        rows = page.settle(list(await session.scalars(page.apply(query, Report.id))))
        items = await present_admin(c, session, rows)
    return paginated(c, items, [r.id for r in rows])


async def _answer(c: Call, report_id: int) -> Response:
    async with c.node.db.read() as session:
        report = await session.get(Report, report_id)
        if report is None:
            raise not_found()
        return ok((await present_admin(c, session, [report]))[0])


async def show(request: Request) -> Response:
    c = await call(request, READ)
    await _moderator(c)
    return await _answer(c, parse_id(request.path_params["id"]))


def _change(what: str) -> Any:
    async def endpoint(request: Request) -> Response:
        c = await call(request, WRITE)
        who = await _moderator(c)
        report_id = parse_id(request.path_params["id"])
        try:
            async with c.node.db.write() as session:
                if what in ("assign_to_self", "unassign"):
                    await reports.assign(session, who, report_id, to_self=what == "assign_to_self")
                elif what == "resolve":
                    await reports.resolve(session, who, report_id)
                else:
                    await reports.reopen(session, who, report_id)
        except reports.UnknownReport:
            raise not_found() from None
        except AdminError as exc:
            raise refused(exc) from None
        return await _answer(c, report_id)

    return endpoint


routes: list[BaseRoute] = [
    Route("/api/v1/reports", create, methods=["POST"]),
    Route(ADMIN, listing, methods=["GET"]),
    Route(ADMIN + "/{id}", show, methods=["GET"]),
    *(
        Route(f"{ADMIN}/{{id}}/{what}", _change(what), methods=["POST"])
        for what in ("assign_to_self", "unassign", "resolve", "reopen")
    ),
]
