"""`/admin/retention`: the node's retention rules and legal holds, for those with
`manage_compliance` — the same actions as `flurfunk retention`/`flurfunk hold` and
/api/v1/flurfunk/retention and /legal_holds, with the same audit entries."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from models.retention import RULE_VISIBILITIES
from outbox import legal_holds, retention
from outbox.permissions import AdminError
from web.node import node_of
from web.ui.access import back, checked_form, flash, operator_of, staff
from web.ui.admin import refused, translate
from web.ui.render import page

HERE = "/admin/retention"
PERMISSION = "manage_compliance"


async def show(request: Request) -> Response:
    await staff(request, PERMISSION)
    async with node_of(request).db.read() as session:
        rules = await retention.rules(session)
        holds = await legal_holds.list_holds(session)
    return page(
        request,
        "admin_retention.html",
        nav="admin",
        section="retention",
        rules=rules,
        holds=holds,
        visibilities=RULE_VISIBILITIES,
    )


async def set_rule(request: Request) -> Response:
    await staff(request, PERMISSION)
    form = await checked_form(request)
    t = translate(request)
    text = str(form.get("days") or "").strip()
    try:
        if not text.isdigit() or len(text) > 9:
            raise AdminError(t("days must be a whole number of days (0 or more)"))
        async with node_of(request).db.write() as session:
            await retention.set_rule(
                session, operator_of(request), int(text), str(form.get("visibility") or "all")
            )
    except AdminError as exc:
        refused(request, exc)
        return back({}, HERE)
    flash(request, t("The retention rule was saved."))
    return back({}, HERE)


async def clear(request: Request) -> Response:
    await staff(request, PERMISSION)
    await checked_form(request)
    t = translate(request)
    async with node_of(request).db.write() as session:
        await retention.clear_rules(session, operator_of(request))
    flash(request, t("Posts are kept again: the retention rules were removed."))
    return back({}, HERE)


async def add_hold(request: Request) -> Response:
    await staff(request, PERMISSION)
    form = await checked_form(request)
    t = translate(request)
    target = str(form.get("account") or "")[:320]
    reason = str(form.get("reason") or "")[: legal_holds.MAX_REASON + 1]
    try:
        async with node_of(request).db.write() as session:
            hold = await legal_holds.add_hold(
                session, node_of(request).settings, operator_of(request), target, reason
            )
    except AdminError as exc:
        refused(request, exc)
        return back({}, HERE)
    flash(request, t("%(account)s is under legal hold.", account=hold.target))
    return back({}, HERE)


async def remove_hold(request: Request) -> Response:
    await staff(request, PERMISSION)
    form = await checked_form(request)
    t = translate(request)
    try:
        async with node_of(request).db.write() as session:
            hold = await legal_holds.remove_hold(
                session,
                node_of(request).settings,
                operator_of(request),
                str(form.get("account") or "")[:320],
            )
    except AdminError as exc:
        refused(request, exc)
        return back({}, HERE)
    flash(request, t("The hold on %(account)s was lifted.", account=hold.target))
    return back({}, HERE)


routes: list[BaseRoute] = [
    Route(HERE, show, methods=["GET"]),
    Route(HERE + "/rules", set_rule, methods=["POST"]),
    Route(HERE + "/rules/clear", clear, methods=["POST"]),
    Route(HERE + "/holds", add_hold, methods=["POST"]),
    Route(HERE + "/holds/remove", remove_hold, methods=["POST"]),
]
