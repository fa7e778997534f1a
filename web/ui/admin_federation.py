"""`/admin/federation`: the allowlist and its changes, each peer node's health over the last
24 hours (with a chart drawn on the server), the deliveries that failed for good with a button
to retry each, and the audit log.

Anyone holding an admin permission sees the page; changing the allowlist needs
`manage_allowlist`, a retry `manage_node` (it sends an activity again).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from federation import values
from federation.allowlist import PatternError
from models import admin as node_admin
from models import allowlist as stored_allowlist
from models.base import utcnow
from outbox import delivery_admin
from outbox.allowlist import allow, disallow, normalise
from outbox.deliveries import take_queued
from web import delivery_report
from web.node import node_of
from web.ui.access import back, checked_form, flash, operator_of, staff
from web.ui.admin import refused, translate
from web.ui.peer_chart import chart
from web.ui.render import page

AUDIT_ENTRIES = 50
FAILED_SHOWN = 50
HERE = "/admin/federation"


async def federation(request: Request) -> Response:
    await staff(request)
    operator = operator_of(request)
    now = utcnow()
    async with node_of(request).db.read() as session:
        patterns = await stored_allowlist.patterns(session)
        log = await node_admin.audit_log(session, AUDIT_ENTRIES)
        peers = await delivery_report.peer_health(session, now)
        failed = await delivery_report.failed(session, limit=FAILED_SHOWN)
    return page(
        request,
        "admin_federation.html",
        nav="admin",
        section="federation",
        patterns=patterns,
        log=log,
        peers=[(peer, chart(peer.hours)) for peer in peers],
        failed=failed,
        may_change_allowlist=operator.may("manage_allowlist"),
        may_retry=operator.may("manage_node"),
    )


async def change_allowlist(request: Request) -> Response:
    await staff(request, "manage_allowlist")
    form = await checked_form(request)
    t = translate(request)
    node = node_of(request)
    adding = request.url.path.endswith("/add")
    try:
        pattern = normalise(str(form.get("pattern") or ""))
    except PatternError as exc:
        refused(request, exc)
        return back({}, HERE)
    operator = operator_of(request)
    async with node.db.write() as session:
        if adding:
            changed = await allow(session, operator, pattern)
        else:
            changed = await disallow(session, operator, pattern)
    if changed and node.federation is not None:
        await node.federation.allowlist.refresh()  # this process at once; others within seconds
    if adding:
        message = t("%(pattern)s added.", pattern=pattern)
    else:
        message = t("%(pattern)s removed.", pattern=pattern)
    flash(request, message if changed else t("Nothing changed."))
    return back({}, HERE)


async def retry(request: Request) -> Response:
    """Put one failed delivery back in the queue, due now."""
    await staff(request, "manage_node")
    await checked_form(request)
    t = translate(request)
    node = node_of(request)
    row = None
    try:
        delivery_id = values.row_id(request.path_params["delivery_id"])
    except values.InvalidValue:
        delivery_id = None
    if delivery_id is not None:
        async with node.db.write() as session:
            row = await delivery_admin.retry(session, operator_of(request), delivery_id)
    if row is None:
        take_queued()
        flash(request, t("Nothing changed: that delivery is not waiting for a retry."))
        return back({}, HERE)
    if take_queued() and node.federation is not None:
        node.federation.wake_deliveries()
    flash(request, t("The delivery to %(host)s is queued again.", host=row.host))
    return back({}, HERE)


routes: list[BaseRoute] = [
    Route(HERE, federation, methods=["GET"]),
    Route(HERE + "/allowlist/add", change_allowlist, methods=["POST"]),
    Route(HERE + "/allowlist/remove", change_allowlist, methods=["POST"]),
    Route(HERE + "/deliveries/{delivery_id}/retry", retry, methods=["POST"]),
]
