"""`/search?q=`: accounts (a `name@host` of another allowed node is looked up there and can
be followed from the result), hashtags and posts, through the API's search."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from web.ui.access import viewer
from web.ui.calls import api
from web.ui.render import page

MAX_QUERY = 500


async def search(request: Request) -> Response:
    caller = await viewer(request)
    query = request.query_params.get("q", "").strip()[:MAX_QUERY]
    results: dict[str, Any] = {"accounts": [], "hashtags": [], "statuses": []}
    relationships: dict[str, dict[str, Any]] = {}
    error = ""
    if query:
        answer = await api(
            request, "GET", "/api/v2/search", query={"q": query, "resolve": "true", "limit": "20"}
        )
        if answer.ok:
            results = answer.data
        else:
            error = answer.error
        others = [a["id"] for a in results["accounts"] if a["id"] != str(caller.token.account_id)]
        if others:
            found = await api(
                request, "GET", "/api/v1/accounts/relationships", query={"id[]": others}
            )
            relationships = {r["id"]: r for r in found.data} if found.ok else {}
    return page(
        request,
        "search.html",
        query=query,
        results=results,
        relationships=relationships,
        error=error,
        back_to=request.url.path + "?" + request.url.query,
    )


routes: list[BaseRoute] = [Route("/search", search, methods=["GET"])]
