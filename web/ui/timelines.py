"""Timeline pages: home (`/`), this node (`/local`), the company (`/company`), a hashtag and
a list. Each reads its page through the client API's timeline code and subscribes to the
matching stream for live updates (web.ui.live)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from models import policy
from outbox.reminder import reminder
from web.node import node_of
from web.ui import announcements as announcement_pages
from web.ui.access import viewer
from web.ui.calls import api
from web.ui.i18n import N_, translator
from web.ui.render import language, page
from web.ui.session import web_caller
from web.ui.sign_in import sign_in_page

PAGE = 40  # statuses on a timeline page: the most the API gives in one page


@dataclass(frozen=True)
class Timeline:
    nav: str
    title: str
    route: str
    query: dict[str, str]
    stream: dict[str, str]


HOME = Timeline("home", N_("Home"), "/api/v1/timelines/home", {}, {"stream": "user"})
LOCAL = Timeline(
    "local",
    N_("This node"),
    "/api/v1/timelines/public",
    {"local": "true"},
    {"stream": "public:local"},
)
COMPANY = Timeline("company", N_("Company"), "/api/v1/timelines/public", {}, {"stream": "public"})


def _cursor(request: Request) -> str | None:
    value = request.query_params.get("max_id", "")
    return value if value.isdigit() and len(value) <= 19 else None


async def show(
    request: Request,
    timeline: Timeline,
    *,
    title: str | None = None,
    path: dict[str, Any] | None = None,
    composer: bool = True,
    banner: bool = False,
) -> Response:
    caller = await viewer(request)
    t = translator(language(request))
    answer = await api(
        request,
        "GET",
        timeline.route,
        path=path,
        query={**timeline.query, "max_id": _cursor(request), "limit": str(PAGE)},
    )
    if answer.status == 404:
        return page(request, "error.html", status=404, message=t("This page does not exist."))
    statuses = answer.data if answer.ok else []
    preferences = (caller.user.preferences if caller.user else None) or {}
    policy_pending = False
    confidentiality_reminder = ""
    if composer and caller.account is not None:
        async with node_of(request).db.read() as session:
            policy_pending = await policy.needs_acceptance(session, caller.account.id) is not None
            confidentiality_reminder = await reminder(session)
    extra: dict[str, Any] = {}
    if banner and caller.account is not None:  # pinned until read: home only
        extra["announcements"] = await announcement_pages.banner_items(request, caller.account.id)
    return page(
        request,
        "timeline.html",
        **extra,
        nav=timeline.nav,
        title=title or t(timeline.title),
        statuses=statuses,
        stream=timeline.stream,
        composer=composer,
        policy_pending=policy_pending,
        confidentiality_reminder=confidentiality_reminder,
        default_visibility=preferences.get("posting:default:visibility", "public"),
        older=statuses[-1]["id"] if len(statuses) >= PAGE else None,
    )


async def home(request: Request) -> Response:
    if await web_caller(request) is None:
        return sign_in_page(request, welcome=True)
    return await show(request, HOME, banner=True)


async def local(request: Request) -> Response:
    return await show(request, LOCAL)


async def company(request: Request) -> Response:
    return await show(request, COMPANY)


async def hashtag(request: Request) -> Response:
    name = request.path_params["name"].lstrip("#")
    timeline = Timeline(
        "", "", "/api/v1/timelines/tag/{hashtag}", {}, {"stream": "hashtag", "tag": name}
    )
    return await show(request, timeline, title="#" + name, path={"hashtag": name})


async def list_timeline(request: Request) -> Response:
    await viewer(request)
    list_id = request.path_params["list_id"]
    t = translator(language(request))
    found = await api(request, "GET", "/api/v1/lists/{id}", path={"id": list_id})
    if not found.ok:
        return page(request, "error.html", status=404, message=t("This page does not exist."))
    timeline = Timeline(
        "", "", "/api/v1/timelines/list/{list_id}", {}, {"stream": "list", "list": list_id}
    )
    return await show(request, timeline, title=str(found.data["title"]), path={"list_id": list_id})


routes: list[BaseRoute] = [
    Route("/", home, methods=["GET"]),
    Route("/local", local, methods=["GET"]),
    Route("/company", company, methods=["GET"]),
    Route("/tags/{name}", hashtag, methods=["GET"]),
    Route("/lists/{list_id}", list_timeline, methods=["GET"]),
]
