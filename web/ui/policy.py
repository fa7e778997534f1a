"""The usage policy in the browser: `/policy` (public; with an accept button for a signed-in
person who has not accepted the current version) and `/admin/policy` (who has and has not
accepted, a CSV of it, and publishing a new version)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from federation import values
from federation.values import InvalidValue
from models import policy as stored
from outbox import policy
from outbox.user_admin import AdminError, Operator
from web.api.policy_gate import POLICY_PATH
from web.auth import Caller
from web.node import node_of
from web.ui.access import back, checked_form, flash, staff
from web.ui.i18n import translator
from web.ui.render import language, page
from web.ui.session import safe_next, web_caller


def policy_first(request: Request) -> Response:
    """Where a browser goes when it tried to write before accepting the current policy; once
    accepted, back to the page the form was on."""
    t = translator(language(request))
    flash(request, t("Please read and accept the usage policy before posting or interacting."))
    own = node_of(request).settings.url("")
    referer = request.headers.get("referer", "")
    back_to = safe_next(referer.removeprefix(own)) if referer.startswith(own + "/") else "/"
    query = "?" + urlencode({"next": back_to}) if back_to != "/" else ""
    return RedirectResponse(POLICY_PATH + query, status_code=303)


async def policy_page(request: Request) -> Response:
    caller = await web_caller(request)
    node = node_of(request)
    accepted_at = None
    async with node.db.read() as session:
        current = await stored.current(session)
        if current is not None and caller is not None and caller.account is not None:
            accepted_at = await stored.accepted_at(session, caller.account.id, current.version)
    return page(
        request,
        "policy.html",
        status=200 if current is not None else 404,
        policy=current,
        html=Markup(policy.policy_html(current.text)) if current else "",  # nh3-cleaned
        accepted_at=accepted_at,
        signed_in=caller is not None and caller.account is not None,
        next=safe_next(request.query_params.get("next")) if "next" in request.query_params else "/",
    )


async def accept(request: Request) -> Response:
    caller = await web_caller(request)
    form = await checked_form(request)
    t = translator(language(request))
    if caller is None or caller.account is None:
        return RedirectResponse("/auth/sign_in?next=/policy", status_code=303)
    node = node_of(request)
    try:
        version = values.integer(form.get("version"), "version", minimum=1, maximum=2**31 - 1)
        async with node.db.write() as session:
            await policy.accept(session, caller.account.id, version)
    except (InvalidValue, AdminError):
        flash(request, t("A newer version of the policy was published; please read it."))
        return RedirectResponse(POLICY_PATH, status_code=303)
    flash(request, t("Thank you: you accepted the usage policy."))
    return back(form, "/")


async def _manager(request: Request) -> Caller:
    return await staff(request, "manage_policy")


async def _admin_page(request: Request, status: int = 200, **extra: Any) -> Response:
    node = node_of(request)
    async with node.db.read() as session:
        current = await stored.current(session)
        people = await stored.acceptances(session, current.version) if current else []
    return page(
        request,
        "admin_policy.html",
        status=status,
        nav="admin",
        section="policy",
        policy=current,
        people=people,
        pending=sum(1 for p in people if p.accepted_at is None),
        **extra,
    )


async def admin_page(request: Request) -> Response:
    await _manager(request)
    return await _admin_page(request)


async def publish(request: Request) -> Response:
    caller = await _manager(request)
    form = await checked_form(request)
    t = translator(language(request))
    text = str(form.get("text") or "")
    assert caller.account is not None
    assert caller.user is not None
    operator = Operator(caller.account.username, caller.user.role, caller.account.id)
    node = node_of(request)
    try:
        async with node.db.write() as session:
            published = await policy.publish(session, operator, text)
    except AdminError as exc:
        reason = t("Not published: %(reason)s", reason=str(exc))
        return await _admin_page(request, status=exc.status, error=reason, text=text)
    flash(request, t("Version %(version)s published.", version=published.version))
    return back({}, "/admin/policy")


async def csv_download(request: Request) -> Response:
    await _manager(request)
    node = node_of(request)
    async with node.db.read() as session:
        current = await stored.current(session)
        people = await stored.acceptances(session, current.version) if current else []
    body = policy.acceptances_csv(people, current.version if current else 0)
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="policy-acceptances.csv"'},
    )


routes: list[BaseRoute] = [
    Route(POLICY_PATH, policy_page, methods=["GET"]),
    Route("/policy/accept", accept, methods=["POST"]),
    Route("/admin/policy", admin_page, methods=["GET"]),
    Route("/admin/policy", publish, methods=["POST"]),
    Route("/admin/policy.csv", csv_download, methods=["GET"]),
]
