"""The compliance team's API: watch terms (`/api/v1/flurfunk/watch_terms`), held posts and
their release (`/api/v1/flurfunk/holds`), the confidentiality reminder
(`/api/v1/flurfunk/compliance/reminder`), all with `manage_compliance`, and the audit log
(`/api/v1/flurfunk/audit`, `view_audit_log`). The same actions as `flurfunk watch`,
`flurfunk compliance` and /admin/compliance, with the same audit entries."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from federation import values
from federation.allowlist import Allowlist
from federation.values import InvalidValue
from models import admin
from models.admin import AuditQuery
from models.compliance import WatchTerm
from models.compliance import terms as stored_terms
from outbox import audit, reminder, watch
from outbox.permissions import AdminError, MissingPermission, Operator
from outbox.watch_match import MAX_TERM_CHARS
from web.api import roles as roles_api
from web.api import serializers
from web.api.base import Call, call, ok, page_of, paginated
from web.api.errors import ApiError, validation
from web.api.federating import wake_deliveries
from web.api.serializers.entities import iso

TERMS = "/api/v1/flurfunk/watch_terms"
HOLDS = "/api/v1/flurfunk/holds"


def present_term(row: WatchTerm) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "term": row.term,
        "label": row.label,
        "regex": row.regex,
        "hold": row.hold,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }


async def _officer(c: Call, permission: str = "manage_compliance") -> Operator:
    operator = await roles_api.operator(c)
    if not operator.may(permission):
        raise roles_api.refused(MissingPermission(permission))
    return operator


def _refused(exc: AdminError) -> ApiError:
    return ApiError(exc.status, str(exc) if exc.status != 404 else "Record not found")


def _term_id(request: Request) -> int:
    try:
        return values.row_id(request.path_params["id"])
    except InvalidValue:
        raise ApiError(404, "Record not found") from None


def _optional_flag(c: Call, name: str) -> bool | None:
    return c.params.flag(name) if name in c.params else None


# --- watch terms -------------------------------------------------------------------------


async def list_terms(request: Request) -> Response:
    c = await call(request, "admin:read")
    await _officer(c)
    async with c.node.db.read() as session:
        rows = await stored_terms(session)
    return ok([present_term(r) for r in rows])


async def show_term(request: Request) -> Response:
    c = await call(request, "admin:read")
    await _officer(c)
    try:
        async with c.node.db.read() as session:
            row = await watch.find_term(session, _term_id(request))
    except AdminError as exc:
        raise _refused(exc) from None
    return ok(present_term(row))


async def add_term(request: Request) -> Response:
    c = await call(request, "admin:write")
    who = await _officer(c)
    term = c.params.text("term", max_length=MAX_TERM_CHARS)
    label = c.params.text("label", max_length=watch.MAX_LABEL_CHARS)
    if term is None or label is None:
        raise validation("term and label are required")
    try:
        async with c.node.db.write() as session:
            row = await watch.add_term(
                session,
                who,
                term,
                label,
                is_regex=c.params.flag("regex"),
                hold=c.params.flag("hold"),
            )
    except AdminError as exc:
        raise _refused(exc) from None
    return ok(present_term(row))


async def change_term(request: Request) -> Response:
    c = await call(request, "admin:write")
    who = await _officer(c)
    term_id = _term_id(request)
    try:
        async with c.node.db.write() as session:
            row, _ = await watch.change_term(
                session,
                who,
                term_id,
                term=c.params.text("term", max_length=MAX_TERM_CHARS),
                label=c.params.text("label", max_length=watch.MAX_LABEL_CHARS),
                is_regex=_optional_flag(c, "regex"),
                hold=_optional_flag(c, "hold"),
            )
    except AdminError as exc:
        raise _refused(exc) from None
    return ok(present_term(row))


async def remove_term(request: Request) -> Response:
    c = await call(request, "admin:write")
    who = await _officer(c)
    term_id = _term_id(request)
    try:
        async with c.node.db.write() as session:
            row = await watch.remove_term(session, who, term_id)
    except AdminError as exc:
        raise _refused(exc) from None
    return ok(present_term(row))


# --- holds -------------------------------------------------------------------------------


async def list_holds(request: Request) -> Response:
    """The held posts, newest first: `[{"status": Status, "labels": [..], "held_at"}]`."""
    c = await call(request, "admin:read")
    await _officer(c)
    async with c.node.db.read() as session:
        held = await watch.held(session)
        shown = await serializers.statuses(
            session, c.node.links(), [s for _, s in held], c.viewer_id
        )
    return ok(
        [
            {
                "status": status,
                "labels": [x.strip() for x in hold.labels.split(",") if x.strip()],
                "held_at": iso(hold.created_at),
            }
            for (hold, _), status in zip(held, shown, strict=True)
        ]
    )


async def release(request: Request) -> Response:
    c = await call(request, "admin:write")
    who = await _officer(c)
    try:
        status_id = values.row_id(request.path_params["status_id"])
    except InvalidValue:
        raise ApiError(404, "Record not found") from None
    fed = c.node.federation
    allowed = fed.allowlist() if fed is not None else Allowlist()
    try:
        async with c.node.db.write() as session:
            status = await watch.release(session, who, status_id, c.node.settings, allowed)
            data = await serializers.status(session, c.node.links(), status, c.viewer_id)
    except AdminError as exc:
        raise _refused(exc) from None
    wake_deliveries(c)
    return ok(data)


# --- the reminder ------------------------------------------------------------------------


async def show_reminder(request: Request) -> Response:
    if request.method == "PUT":
        return await set_reminder(request)
    c = await call(request, "read", optional=True)
    async with c.node.db.read() as session:
        return ok({"text": await reminder.reminder(session)})


async def set_reminder(request: Request) -> Response:
    c = await call(request, "admin:write")
    who = await _officer(c)
    text = c.params.text("text", max_length=reminder.MAX_REMINDER_CHARS)
    if text is None:
        raise validation("text is missing (an empty text clears the reminder)")
    try:
        async with c.node.db.write() as session:
            await reminder.set_reminder(session, who, text)
            current = await reminder.reminder(session)
    except AdminError as exc:
        raise _refused(exc) from None
    return ok({"text": current})


# --- the audit log -----------------------------------------------------------------------


async def audit_log(request: Request) -> Response:
    """Entries newest first, paged by id with a Link header; filters `since` (ISO 8601),
    `actor` (`name`, `name@host`, `cli:USER`) and `action` (a word, or its prefix: `user`)."""
    c = await call(request, "admin:read")
    await _officer(c, "view_audit_log")
    since = None
    if c.params.text("since"):
        try:
            since = values.iso_datetime(c.params.text("since"), "since")
        except InvalidValue as exc:
            raise validation(str(exc)) from None
    page = page_of(c.params, 40, 200)
    query = AuditQuery(
        since=since,
        actor=c.params.text("actor", max_length=255) or None,
        action=c.params.text("action", max_length=64) or None,
        max_id=page.max_id,
        since_id=page.since_id,
        min_id=page.min_id,
        limit=page.limit,
    )
    async with c.node.db.read() as session:
        rows = await admin.audit_entries(session, query)
    return paginated(c, [audit.entry(r) for r in rows], [r.id for r in rows])


routes: list[BaseRoute] = [
    Route(TERMS, list_terms, methods=["GET"]),
    Route(TERMS, add_term, methods=["POST"]),
    Route(TERMS + "/{id}", show_term, methods=["GET"]),
    Route(TERMS + "/{id}", change_term, methods=["PATCH", "PUT"]),
    Route(TERMS + "/{id}", remove_term, methods=["DELETE"]),
    Route(HOLDS, list_holds, methods=["GET"]),
    Route(HOLDS + "/{status_id}/release", release, methods=["POST"]),
    Route("/api/v1/flurfunk/compliance/reminder", show_reminder, methods=["GET", "PUT"]),
    Route("/api/v1/flurfunk/audit", audit_log, methods=["GET"]),
]
