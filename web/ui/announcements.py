"""Announcement pages: the banner above the home timeline (read and acknowledge), and for
those whose role carries `announce`, /admin/announcements to publish, withdraw and follow the
read receipts. The same actions as /api/v1/flurfunk/announcements and `flurfunk announce`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from federation import values
from federation.allowlist import Allowlist
from federation.values import InvalidValue
from outbox import announcement_federation, announcement_reads, announcements
from outbox.permissions import AdminError
from web.node import node_of
from web.ui.access import back, checked_form, flash, operator_of, staff, viewer
from web.ui.admin import refused, translate
from web.ui.render import page, render_fragment

HERE = "/admin/announcements"


def _allowlist(request: Request) -> Allowlist:
    fed = node_of(request).federation
    return fed.allowlist() if fed is not None else Allowlist()


async def banner_items(request: Request, account_id: int) -> list[dict[str, Any]]:
    """What the banner shows one person: unread announcements, recording that they saw them."""
    node = node_of(request)
    async with node.db.write() as session:
        pairs = await announcement_reads.for_viewer(session, node.settings, account_id)
    return [
        {
            "id": str(row.id),
            "content": row.content,
            "requires_ack": row.requires_ack,
            "updated": row.updated_at != row.published_at,
            "published_at": row.published_at,
            "updated_at": row.updated_at,
            "ends_at": row.ends_at,
        }
        for row, _ in pairs
    ]


async def banner(request: Request) -> Response:
    """The banner alone, for the live script (after an `announcement` stream event)."""
    caller = await viewer(request)
    assert caller.account is not None
    items = await banner_items(request, caller.account.id)
    return render_fragment(request, "fragment_announcements.html", announcements=items)


async def read(request: Request) -> Response:
    caller = await viewer(request)
    assert caller.account is not None
    form = await checked_form(request)
    node = node_of(request)
    try:
        async with node.db.write() as session:
            await announcement_reads.dismiss(
                session, node.settings, caller.account.id, str(request.path_params["id"])
            )
    except AdminError:
        pass  # withdrawn or ended meanwhile: nothing left to read
    return back(form, "/")


def _moment(text: str, name: str) -> datetime | None:
    if not text.strip():
        return None
    try:
        return values.iso_datetime(text.strip(), name)
    except InvalidValue as exc:
        raise announcements.AnnouncementError(str(exc)) from None


async def manage(request: Request) -> Response:
    await staff(request, "announce")
    node = node_of(request)
    async with node.db.read() as session:
        rows = await announcements.published(session)
    return page(
        request,
        "admin_announcements.html",
        nav="admin",
        section="announcements",
        published=rows,
        own=node.settings.domain,
    )


async def publish(request: Request) -> Response:
    caller = await staff(request, "announce")
    assert caller.account is not None
    form = await checked_form(request)
    t = translate(request)
    node = node_of(request)
    audience = str(form.get("audience") or "company")
    if audience == "nodes":
        audience = "nodes:" + str(form.get("nodes") or "")
    elif audience == "group":
        audience = f"group:{str(form.get('group') or '').strip()}@{node.settings.domain}"
    try:
        draft = announcements.Draft(
            text=str(form.get("text") or "")[: announcements.MAX_TEXT * 2],
            audience=audience[:4000],
            starts_at=_moment(str(form.get("starts_at") or ""), "starts_at"),
            ends_at=_moment(str(form.get("ends_at") or ""), "ends_at"),
            requires_ack=form.get("requires_ack") == "on",
        )
        async with node.db.write() as session:
            await announcements.publish(
                session,
                node.settings,
                _allowlist(request),
                operator_of(request),
                caller.account,
                draft,
            )
    except AdminError as exc:
        refused(request, exc)
        return back({}, HERE)
    if node.federation is not None:
        node.federation.wake_deliveries()
    flash(request, t("The announcement was published."))
    return back({}, HERE)


async def withdraw(request: Request) -> Response:
    await staff(request, "announce")
    await checked_form(request)
    t = translate(request)
    node = node_of(request)
    try:
        async with node.db.write() as session:
            await announcements.withdraw(
                session,
                node.settings,
                _allowlist(request),
                operator_of(request),
                str(request.path_params["id"]),
            )
    except AdminError as exc:
        refused(request, exc)
        return back({}, HERE)
    if node.federation is not None:
        node.federation.wake_deliveries()
    flash(request, t("The announcement was withdrawn."))
    return back({}, HERE)


async def receipts(request: Request) -> Response:
    await staff(request, "announce")
    node = node_of(request)
    t = translate(request)
    try:
        async with node.db.read() as session:
            row = await announcements.own_announcement(session, str(request.path_params["id"]))
            announcements.may_see_receipts(operator_of(request), row)
            report = await announcement_federation.receipts(session, node.settings, row)
    except AdminError as exc:
        status = exc.status if exc.status in (403, 404) else 422
        message = t("This page does not exist.") if status == 404 else str(exc)
        return page(request, "error.html", status=status, message=message)
    return page(
        request,
        "admin_announcement_receipts.html",
        nav="admin",
        section="announcements",
        announcement=row,
        report=report,
    )


routes: list[BaseRoute] = [
    Route("/announcements/banner", banner, methods=["GET"]),
    Route("/announcements/{id:int}/read", read, methods=["POST"]),
    Route(HERE, manage, methods=["GET"]),
    Route(HERE, publish, methods=["POST"]),
    Route(HERE + "/{id}/withdraw", withdraw, methods=["POST"]),
    Route(HERE + "/{id}/receipts", receipts, methods=["GET"]),
]
