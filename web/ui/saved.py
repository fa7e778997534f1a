"""What the reader kept: bookmarks and favourites; and their lists (`/lists`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from web.ui.access import back, checked_form, flash, viewer
from web.ui.calls import api
from web.ui.i18n import translator
from web.ui.render import language, page

PAGE = 40


async def _kept(request: Request, route: str, title: str, nav: str) -> Response:
    await viewer(request)
    max_id = request.query_params.get("max_id", "")
    answer = await api(
        request,
        "GET",
        route,
        query={"limit": str(PAGE), "max_id": max_id if max_id.isdigit() else None},
    )
    return page(
        request,
        "saved.html",
        nav=nav,
        title=title,
        statuses=answer.data if answer.ok else [],
        older=answer.older if answer.ok and len(answer.data) >= PAGE else None,
    )


async def bookmarks(request: Request) -> Response:
    t = translator(language(request))
    return await _kept(request, "/api/v1/bookmarks", t("Bookmarks"), "bookmarks")


async def favourites(request: Request) -> Response:
    t = translator(language(request))
    return await _kept(request, "/api/v1/favourites", t("Favourites"), "")


async def lists(request: Request) -> Response:
    await viewer(request)
    answer = await api(request, "GET", "/api/v1/lists")
    return page(request, "lists.html", nav="lists", lists=answer.data if answer.ok else [])


async def create_list(request: Request) -> Response:
    await viewer(request)
    form = await checked_form(request)
    title = str(form.get("title") or "").strip()
    answer = await api(request, "POST", "/api/v1/lists", body={"title": title})
    if not answer.ok:
        flash(request, answer.error)
    return back({}, "/lists")


async def delete_list(request: Request) -> Response:
    await viewer(request)
    await checked_form(request)
    list_id = str(request.path_params["list_id"])
    if list_id.isdigit() and len(list_id) <= 19:
        answer = await api(request, "DELETE", "/api/v1/lists/{id}", path={"id": list_id})
        if not answer.ok:
            flash(request, answer.error)
    return back({}, "/lists")


routes: list[BaseRoute] = [
    Route("/bookmarks", bookmarks, methods=["GET"]),
    Route("/favourites", favourites, methods=["GET"]),
    Route("/lists", lists, methods=["GET"]),
    Route("/lists", create_list, methods=["POST"]),
    Route("/lists/{list_id}/delete", delete_list, methods=["POST"]),
]
