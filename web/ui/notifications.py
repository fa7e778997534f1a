"""`/notifications` and `/conversations`: what happened to the reader, and their direct
conversations, read through the API's own endpoints."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from web.ui.access import back, checked_form, flash, viewer
from web.ui.calls import api
from web.ui.i18n import N_, translator
from web.ui.render import language, page

PAGE = 30
# What a notification says, by its type (the account's name goes before it).
SAYS = {
    "mention": N_("mentioned you"),
    "status": N_("posted"),
    "reblog": N_("boosted your post"),
    "follow": N_("followed you"),
    "follow_request": N_("asked to follow you"),
    "favourite": N_("favourited your post"),
    "poll": N_("A poll has ended"),
    "update": N_("edited a post"),
}


def _cursor(request: Request) -> str | None:
    value = request.query_params.get("max_id", "")
    return value if value.isdigit() and len(value) <= 19 else None


async def notifications(request: Request) -> Response:
    await viewer(request)
    answer = await api(
        request,
        "GET",
        "/api/v1/notifications",
        query={"limit": str(PAGE), "max_id": _cursor(request)},
    )
    items = answer.data if answer.ok else []
    return page(
        request,
        "notifications.html",
        nav="notifications",
        items=items,
        says=SAYS,
        stream={"stream": "user"},
        older=items[-1]["id"] if len(items) >= PAGE else None,
    )


async def conversations(request: Request) -> Response:
    await viewer(request)
    answer = await api(
        request, "GET", "/api/v1/conversations", query={"limit": "20", "max_id": _cursor(request)}
    )
    items = answer.data if answer.ok else []
    return page(request, "conversations.html", nav="conversations", items=items)


async def follow_requests(request: Request) -> Response:
    await viewer(request)
    answer = await api(request, "GET", "/api/v1/follow_requests", query={"limit": "80"})
    t = translator(language(request))
    return page(
        request,
        "follow_requests.html",
        nav="notifications",
        title=t("Follow requests"),
        accounts=answer.data if answer.ok else [],
    )


async def decide(request: Request) -> Response:
    await viewer(request)
    form = await checked_form(request)
    decision = request.url.path.rsplit("/", 1)[-1]
    account_id = str(request.path_params["account_id"])
    if decision in ("authorize", "reject") and account_id.isdigit() and len(account_id) <= 19:
        route = f"/api/v1/follow_requests/{{id:int}}/{decision}"
        answer = await api(request, "POST", route, path={"id": int(account_id)})
        if not answer.ok:
            flash(request, answer.error)
    return back(form, "/follow_requests")


routes: list[BaseRoute] = [
    Route("/notifications", notifications, methods=["GET"]),
    Route("/follow_requests", follow_requests, methods=["GET"]),
    Route("/follow_requests/{account_id}/authorize", decide, methods=["POST"]),
    Route("/follow_requests/{account_id}/reject", decide, methods=["POST"]),
    Route("/conversations", conversations, methods=["GET"]),
]
