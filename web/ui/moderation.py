"""Moderation pages: reporting a post, one's own warnings with an appeal form
(`/settings/moderation`, the one page a suspended person may open), and for those with
`manage_reports` the reports (`/admin/reports`, `/admin/reports/ID`) and pending appeals.

Every read and write goes through the client API's endpoints (web.ui.calls), so a page does
exactly what an app would, with the same checks and audit entries.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from web.ui.access import back, checked_form, flash, staff, viewer
from web.ui.calls import Answer, api
from web.ui.i18n import translator
from web.ui.render import language, page

CATEGORIES = ("other", "spam", "legal", "violation")
REPORT_ACTIONS = ("assign_to_self", "unassign", "resolve", "reopen")
ACCOUNT_ACTIONS = ("none", "sensitive", "silence", "suspend", "disable")
STATUS_ACTIONS = ("delete", "sensitive")


def _t(request: Request) -> Any:
    return translator(language(request))


def _told(request: Request, answer: Answer, done: str) -> None:
    flash(request, done if answer.ok else answer.error)


# --- reporting a post -----------------------------------------------------------------------


async def report_form(request: Request) -> Response:
    await viewer(request)
    status_id = str(request.path_params["status_id"])
    shown = await api(request, "GET", "/api/v1/statuses/{id}", path={"id": status_id})
    if not shown.ok:
        return page(request, "error.html", status=shown.status, message=shown.error)
    return page(request, "report.html", post=shown.data, categories=CATEGORIES, error="")


async def report_submit(request: Request) -> Response:
    await viewer(request)
    form = await checked_form(request)
    status_id = str(request.path_params["status_id"])
    shown = await api(request, "GET", "/api/v1/statuses/{id}", path={"id": status_id})
    if not shown.ok:
        return page(request, "error.html", status=shown.status, message=shown.error)
    answer = await api(
        request,
        "POST",
        "/api/v1/reports",
        body={
            "account_id": shown.data["account"]["id"],
            "status_ids": [status_id],
            "category": str(form.get("category") or "other"),
            "comment": str(form.get("comment") or ""),
            "forward": form.get("forward") == "1",
        },
    )
    if not answer.ok:
        return page(
            request,
            "report.html",
            status=answer.status,
            post=shown.data,
            categories=CATEGORIES,
            error=answer.error,
        )
    t = _t(request)
    flash(request, t("Thank you: the moderators have your report."))
    return RedirectResponse(f"/@{shown.data['account']['acct']}/{status_id}", status_code=303)


# --- one's own warnings ---------------------------------------------------------------------


async def warnings_page(request: Request) -> Response:
    await viewer(request)
    found = await api(request, "GET", "/api/v1/flurfunk/warnings")
    return page(request, "warnings.html", warnings=found.data if found.ok else [])


async def appeal(request: Request) -> Response:
    await viewer(request)
    form = await checked_form(request)
    answer = await api(
        request,
        "POST",
        "/api/v1/flurfunk/appeals",
        body={
            "warning_id": str(request.path_params["warning_id"]),
            "text": str(form.get("text") or ""),
        },
    )
    t = _t(request)
    _told(request, answer, t("Your appeal was sent; another moderator decides it."))
    return RedirectResponse("/settings/moderation", status_code=303)


# --- moderators -----------------------------------------------------------------------------


async def reports_page(request: Request) -> Response:
    await staff(request, "manage_reports")
    resolved = request.query_params.get("resolved") == "true"
    found = await api(
        request,
        "GET",
        "/api/v1/admin/reports",
        query={"resolved": "true" if resolved else None},
        admin=True,
    )
    appeals = await api(
        request, "GET", "/api/v1/flurfunk/appeals", query={"all": "true", "state": "pending"}
    )
    return page(
        request,
        "admin_reports.html",
        nav="admin",
        section="reports",
        reports=found.data if found.ok else [],
        resolved=resolved,
        appeals=appeals.data if appeals.ok else [],
    )


async def report_page(request: Request) -> Response:
    await staff(request, "manage_reports")
    report_id = str(request.path_params["report_id"])
    found = await api(
        request, "GET", "/api/v1/admin/reports/{id}", path={"id": report_id}, admin=True
    )
    if not found.ok:
        return page(request, "error.html", status=found.status, message=found.error)
    return page(
        request,
        "admin_report.html",
        nav="admin",
        section="reports",
        report=found.data,
        account_actions=ACCOUNT_ACTIONS,
    )


async def report_action(request: Request) -> Response:
    await staff(request, "manage_reports")
    await checked_form(request)
    report_id = str(request.path_params["report_id"])
    action = str(request.path_params["action"])
    done = f"/admin/reports/{report_id}"
    if action not in REPORT_ACTIONS:
        return RedirectResponse(done, status_code=303)
    answer = await api(
        request,
        "POST",
        f"/api/v1/admin/reports/{{id}}/{action}",
        path={"id": report_id},
        admin=True,
    )
    t = _t(request)
    _told(request, answer, t("Done."))
    return RedirectResponse(done, status_code=303)


async def moderate_account(request: Request) -> Response:
    await staff(request, "manage_reports")
    form = await checked_form(request)
    report_id = str(request.path_params["report_id"])
    done = f"/admin/reports/{report_id}"
    answer = await api(
        request,
        "POST",
        "/api/v1/admin/accounts/{id}/action",
        path={"id": str(form.get("account_id") or "")},
        body={
            "type": str(form.get("type") or ""),
            "text": str(form.get("text") or ""),
            "report_id": report_id,
        },
        admin=True,
    )
    t = _t(request)
    _told(request, answer, t("The action was taken and the person told why."))
    return RedirectResponse(done, status_code=303)


async def moderate_statuses(request: Request) -> Response:
    await staff(request, "manage_reports")
    form = await checked_form(request)
    report_id = str(request.path_params["report_id"])
    answer = await api(
        request,
        "POST",
        "/api/v1/flurfunk/moderation/statuses",
        body={
            "type": str(form.get("type") or ""),
            "status_ids": [str(v) for v in form.getlist("status_ids")],
            "text": str(form.get("text") or ""),
            "report_id": report_id,
        },
        admin=True,
    )
    t = _t(request)
    _told(request, answer, t("The action was taken and the person told why."))
    return RedirectResponse(f"/admin/reports/{report_id}", status_code=303)


async def decide_appeal(request: Request) -> Response:
    await staff(request, "manage_reports")
    form = await checked_form(request)
    decision = str(request.path_params["decision"])
    if decision in ("approve", "reject"):
        answer = await api(
            request,
            "POST",
            f"/api/v1/flurfunk/appeals/{{id}}/{decision}",
            path={"id": str(request.path_params["appeal_id"])},
            admin=True,
        )
        t = _t(request)
        _told(
            request,
            answer,
            t("Approved: the action is lifted.") if decision == "approve" else t("Rejected."),
        )
    return back(form, "/admin/reports")


routes: list[BaseRoute] = [
    Route("/@{acct}/{status_id}/report", report_form, methods=["GET"]),
    Route("/@{acct}/{status_id}/report", report_submit, methods=["POST"]),
    Route("/settings/moderation", warnings_page, methods=["GET"]),
    Route("/settings/moderation/{warning_id}/appeal", appeal, methods=["POST"]),
    Route("/admin/reports", reports_page, methods=["GET"]),
    Route("/admin/reports/{report_id}", report_page, methods=["GET"]),
    Route("/admin/reports/{report_id}/account", moderate_account, methods=["POST"]),
    Route("/admin/reports/{report_id}/statuses", moderate_statuses, methods=["POST"]),
    Route("/admin/reports/{report_id}/{action}", report_action, methods=["POST"]),
    Route("/admin/appeals/{appeal_id}/{decision}", decide_appeal, methods=["POST"]),
]
