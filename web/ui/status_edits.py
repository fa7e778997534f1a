"""Editing one's own post (with its history), and who favourited or boosted a post."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from web.ui.access import back, checked_form, flash, viewer
from web.ui.calls import api
from web.ui.i18n import translator
from web.ui.render import language, page


def _ids(request: Request) -> tuple[str, str] | None:
    acct, status_id = request.path_params["acct"], str(request.path_params["status_id"])
    if not status_id.isdigit() or len(status_id) > 19:
        return None
    return acct, status_id


def _missing(request: Request) -> Response:
    t = translator(language(request))
    return page(request, "error.html", status=404, message=t("This post does not exist."))


async def edit_form(request: Request) -> Response:
    await viewer(request)
    ids = _ids(request)
    source = (
        await api(request, "GET", "/api/v1/statuses/{id}/source", path={"id": ids[1]})
        if ids
        else None
    )
    if ids is None or source is None or not source.ok:
        return _missing(request)
    return page(request, "edit.html", source=source.data, back_to=f"/@{ids[0]}/{ids[1]}")


async def edit(request: Request) -> Response:
    await viewer(request)
    form = await checked_form(request)
    ids = _ids(request)
    if ids is None:
        return _missing(request)
    t = translator(language(request))
    shown = await api(request, "GET", "/api/v1/statuses/{id}", path={"id": ids[1]})
    if not shown.ok:
        return _missing(request)
    body = {
        "status": str(form.get("status") or ""),
        "spoiler_text": str(form.get("spoiler_text") or ""),
        # An edit keeps the attachments unless the form says otherwise.
        "media_ids": [m["id"] for m in shown.data["media_attachments"]],
    }
    answer = await api(request, "PUT", "/api/v1/statuses/{id}", path={"id": ids[1]}, body=body)
    if not answer.ok:
        flash(request, t("Not saved: %(reason)s", reason=answer.error))
        return back({}, f"/@{ids[0]}/{ids[1]}/edit")
    return back({}, f"/@{ids[0]}/{ids[1]}")


async def history(request: Request) -> Response:
    await viewer(request)
    ids = _ids(request)
    found = (
        await api(request, "GET", "/api/v1/statuses/{id}/history", path={"id": ids[1]})
        if ids
        else None
    )
    if ids is None or found is None or not found.ok:
        return _missing(request)
    return page(request, "history.html", versions=list(reversed(found.data)), back_to=ids)


async def interactions(request: Request) -> Response:
    """Who favourited (`/favourited_by`) or boosted (`/reblogged_by`) a post."""
    await viewer(request)
    ids = _ids(request)
    kind = request.url.path.rsplit("/", 1)[-1]
    if ids is None or kind not in ("favourited_by", "reblogged_by"):
        return _missing(request)
    found = await api(
        request, "GET", f"/api/v1/statuses/{{id}}/{kind}", path={"id": ids[1]}, query={"limit": 80}
    )
    if not found.ok:
        return _missing(request)
    t = translator(language(request))
    title = t("Favourited by") if kind == "favourited_by" else t("Boosted by")
    return page(request, "accounts.html", title=title, accounts=found.data)


routes: list[BaseRoute] = [
    Route("/@{acct}/{status_id}/edit", edit_form, methods=["GET"]),
    Route("/@{acct}/{status_id}/edit", edit, methods=["POST"]),
    Route("/@{acct}/{status_id}/history", history, methods=["GET"]),
    Route("/@{acct}/{status_id}/favourited_by", interactions, methods=["GET"]),
    Route("/@{acct}/{status_id}/reblogged_by", interactions, methods=["GET"]),
]
