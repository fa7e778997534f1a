"""`/explore`: what the company talks about now (trending hashtags, posts and links) and the
directory of colleagues on every allowed node, searchable by name and profile fields, with a
few suggestions of whom to follow — read
through the same API endpoints that apps call."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from web.ui.access import viewer
from web.ui.calls import api
from web.ui.render import page

MAX_QUERY = 200
TRENDS_SHOWN = 10
DIRECTORY_SHOWN = 40


def _people(history: list[dict[str, Any]]) -> int:
    """Distinct people over the days Mastodon's history covers (at least today's count)."""
    return max((int(day.get("accounts", 0)) for day in history[:2]), default=0)


async def explore(request: Request) -> Response:
    await viewer(request)
    query = request.query_params.get("q", "").strip()[:MAX_QUERY]
    local = request.query_params.get("local") == "1"
    top = {"limit": str(TRENDS_SHOWN)}
    tags = await api(request, "GET", "/api/v1/trends/tags", query=top)
    posts = await api(request, "GET", "/api/v1/trends/statuses", query=top)
    links = await api(request, "GET", "/api/v1/trends/links", query=top)
    suggested = await api(request, "GET", "/api/v2/suggestions", query={"limit": "5"})
    people = await api(
        request,
        "GET",
        "/api/v1/directory",
        query={
            "q": query or None,
            "local": "true" if local else None,
            "limit": str(DIRECTORY_SHOWN),
        },
    )
    return page(
        request,
        "explore.html",
        nav="explore",
        tags=[(tag, _people(tag["history"])) for tag in (tags.data if tags.ok else [])],
        posts=posts.data if posts.ok else [],
        links=[(card, _people(card["history"])) for card in (links.data if links.ok else [])],
        suggested=[s["account"] for s in (suggested.data if suggested.ok else [])],
        people=people.data if people.ok else [],
        error="" if people.ok else people.error,
        directory_query=query,
        local=local,
    )


routes: list[BaseRoute] = [Route("/explore", explore, methods=["GET"])]
