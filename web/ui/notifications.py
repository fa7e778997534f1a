"""`/notifications` and `/conversations`: what happened to the reader, and their direct
conversations, read through the API's own endpoints."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from web.ui.access import back, checked_form, flash, viewer
from web.ui.calls import api
from web.ui.i18n import N_, translator
from web.ui.render import composer_reminder, language, page, render_fragment
from web.ui.session import web_caller

PAGE = 30
# A conversation that just changed is the newest; the live script asks for it right away.
RECENT_CONVERSATIONS = 10
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
    "admin.report": N_("was reported"),
    "moderation_warning": N_("received a moderation decision"),
}


def _id(value: str) -> str | None:
    return value if value.isdigit() and len(value) <= 19 else None


def _cursor(request: Request) -> str | None:
    return _id(request.query_params.get("max_id", ""))


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
        stream={"stream": "user:notification"},
        older=items[-1]["id"] if len(items) >= PAGE else None,
    )


async def conversations(request: Request) -> Response:
    await viewer(request)
    answer = await api(
        request, "GET", "/api/v1/conversations", query={"limit": "20", "max_id": _cursor(request)}
    )
    items = answer.data if answer.ok else []
    return page(
        request,
        "conversations.html",
        confidentiality_reminder=await composer_reminder(request),
        nav="conversations",
        items=items,
        stream={"stream": "direct"},
    )


async def notification_fragment(request: Request) -> Response:
    """One notification as /notifications lists it: what the live script inserts."""
    if await web_caller(request) is None:
        return HTMLResponse("", status_code=401)
    wanted = _id(str(request.path_params["item_id"]))
    answer = await api(request, "GET", "/api/v1/notifications/{id}", path={"id": wanted or "0"})
    if wanted is None or not answer.ok:
        return HTMLResponse("", status_code=404)
    return render_fragment(request, "fragment_notification.html", item=answer.data, says=SAYS)


async def conversation_fragment(request: Request) -> Response:
    """One conversation as /conversations lists it. The API has no single conversation to
    ask for, so it is looked up among the newest, where a just-changed one is."""
    if await web_caller(request) is None:
        return HTMLResponse("", status_code=401)
    wanted = _id(str(request.path_params["item_id"]))
    query = {"limit": str(RECENT_CONVERSATIONS)}
    answer = await api(request, "GET", "/api/v1/conversations", query=query)
    found = [c for c in (answer.data if answer.ok else []) if c["id"] == wanted]
    if not found:
        return HTMLResponse("", status_code=404)
    return render_fragment(request, "fragment_conversation.html", item=found[0])


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
    Route("/web/notifications/{item_id}", notification_fragment, methods=["GET"]),
    Route("/web/conversations/{item_id}", conversation_fragment, methods=["GET"]),
]
