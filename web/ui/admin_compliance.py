"""`/admin/compliance` and `/admin/audit`: the compliance team's pages. Those with
`manage_compliance` set the confidentiality reminder, keep the watch terms and release held
posts; those with `view_audit_log` read the audit log with filters and download it as CSV
(the download is itself recorded). The same actions as `flurfunk watch`, `flurfunk compliance`,
`flurfunk audit export` and /api/v1/flurfunk/…, with the same audit entries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from federation import values
from federation.allowlist import Allowlist
from federation.values import InvalidValue
from models import admin as node_admin
from models.account import Account
from models.admin import AuditQuery
from models.compliance import terms as stored_terms
from outbox import audit, reminder, watch
from outbox.permissions import AdminError
from web.node import node_of
from web.ui.access import back, checked_form, flash, operator_of, staff
from web.ui.admin import refused, translate
from web.ui.render import page

HERE = "/admin/compliance"
AUDIT = "/admin/audit"
AUDIT_PAGE = 200


async def compliance_page(request: Request) -> Response:
    await staff(request, "manage_compliance")
    async with node_of(request).db.read() as session:
        text = await reminder.reminder(session)
        terms = await stored_terms(session)
        held = await watch.held(session)
        ids = {s.account_id for _, s in held}
        authors = {
            a.id: a.username
            for a in await session.scalars(select(Account).where(Account.id.in_(ids)))
        }
    return page(
        request,
        "admin_compliance.html",
        nav="admin",
        section="compliance",
        reminder=text,
        max_reminder=reminder.MAX_REMINDER_CHARS,
        terms=terms,
        held=[(h, s, authors.get(s.account_id, "")) for h, s in held],
    )


async def save_reminder(request: Request) -> Response:
    await staff(request, "manage_compliance")
    form = await checked_form(request)
    t = translate(request)
    text = str(form.get("text") or "")[: reminder.MAX_REMINDER_CHARS + 1]
    try:
        async with node_of(request).db.write() as session:
            changed = await reminder.set_reminder(session, operator_of(request), text)
    except AdminError as exc:
        refused(request, exc)
        return back({}, HERE)
    flash(request, t("Saved.") if changed else t("Nothing changed."))
    return back({}, HERE)


async def add_term(request: Request) -> Response:
    await staff(request, "manage_compliance")
    form = await checked_form(request)
    t = translate(request)
    try:
        async with node_of(request).db.write() as session:
            await watch.add_term(
                session,
                operator_of(request),
                str(form.get("term") or "")[:1000],
                str(form.get("label") or "")[:200],
                is_regex=form.get("regex") == "on",
                hold=form.get("hold") == "on",
            )
    except AdminError as exc:
        refused(request, exc)
        return back({}, HERE)
    flash(request, t("Watch term added."))
    return back({}, HERE)


def _path_id(request: Request, name: str) -> int | None:
    try:
        return values.row_id(request.path_params[name])
    except InvalidValue:
        return None


async def remove_term(request: Request) -> Response:
    await staff(request, "manage_compliance")
    await checked_form(request)
    t = translate(request)
    term_id = _path_id(request, "id")
    try:
        if term_id is None:
            raise watch.UnknownTerm("no such watch term")
        async with node_of(request).db.write() as session:
            await watch.remove_term(session, operator_of(request), term_id)
    except AdminError as exc:
        refused(request, exc)
        return back({}, HERE)
    flash(request, t("Watch term removed."))
    return back({}, HERE)


async def release(request: Request) -> Response:
    await staff(request, "manage_compliance")
    await checked_form(request)
    t = translate(request)
    status_id = _path_id(request, "status_id")
    node = node_of(request)
    fed = node.federation
    allowed = fed.allowlist() if fed is not None else Allowlist()
    try:
        if status_id is None:
            raise watch.NotHeld("no such held post")
        async with node.db.write() as session:
            await watch.release(session, operator_of(request), status_id, node.settings, allowed)
    except AdminError as exc:
        refused(request, exc)
        return back({}, HERE)
    if fed is not None:
        fed.wake_deliveries()
    flash(request, t("The post is released."))
    return back({}, HERE)


# --- the audit log -----------------------------------------------------------------------


def _since(text: str) -> datetime | None:
    if not text:
        return None
    try:
        return values.iso_datetime(text if "T" in text else text + "T00:00:00", "since")
    except InvalidValue:
        return None


async def audit_page(request: Request) -> Response:
    """The audit log with filters; `?format=csv` downloads what the filters select."""
    await staff(request, "view_audit_log")
    q = request.query_params
    since_text = q.get("since", "").strip()[:64]
    actor = q.get("actor", "").strip()[:255]
    action = q.get("action", "").strip()[:64]
    since = _since(since_text)
    query = AuditQuery(since=since, actor=actor or None, action=action or None)
    if q.get("format") == "csv":
        async with node_of(request).db.write() as session:
            # Recorded in the log it exports, as `flurfunk audit export` does.
            node_admin.record(
                session,
                operator_of(request).name,
                "audit.export",
                "csv",
                f"page: since={since_text} actor={actor} action={action}",
                operator_account_id=operator_of(request).account_id,
            )
            await session.flush()
            rows = await node_admin.audit_entries(session, query)
        body = audit.as_csv([audit.entry(r) for r in rows])
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'},
        )
    async with node_of(request).db.read() as session:
        rows = await node_admin.audit_entries(
            session,
            AuditQuery(since=since, actor=actor or None, action=action or None, limit=AUDIT_PAGE),
        )
    return page(
        request,
        "admin_audit.html",
        nav="admin",
        section="audit",
        entries=[audit.entry(r) for r in rows],
        since=since_text,
        since_invalid=bool(since_text) and since is None,
        actor=actor,
        action=action,
        limit=AUDIT_PAGE,
    )


routes: list[BaseRoute] = [
    Route(HERE, compliance_page, methods=["GET"]),
    Route(HERE + "/reminder", save_reminder, methods=["POST"]),
    Route(HERE + "/terms", add_term, methods=["POST"]),
    Route(HERE + "/terms/{id}/remove", remove_term, methods=["POST"]),
    Route(HERE + "/holds/{status_id}/release", release, methods=["POST"]),
    Route(AUDIT, audit_page, methods=["GET"]),
]
