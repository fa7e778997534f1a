"""What a browser sees when something is missing or refused: a page, not JSON.

API clients (and anything under /api, /oauth/token, the ActivityPub paths) keep JSON errors;
a request is a browser's when it asks for `text/html`.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from web.ui.access import not_allowed_page, refused_form, sign_in_redirect
from web.ui.i18n import translator
from web.ui.render import language, page
from web.ui.session import web_caller

JSON_PREFIXES = ("/api/", "/oauth/token", "/oauth/revoke", "/.well-known/", "/nodeinfo", "/users/")


def wants_page(request: Request) -> bool:
    if request.url.path.startswith(JSON_PREFIXES):
        return False
    return "text/html" in request.headers.get("accept", "")


async def not_found_page(request: Request) -> Response:
    await web_caller(request)  # signed-in visitors keep their header and navigation
    t = translator(language(request))
    return page(
        request,
        "error.html",
        status=404,
        heading=t("Page not found"),
        message=t("This page does not exist."),
    )


async def sign_in_first(request: Request, exc: Exception) -> Response:
    return sign_in_redirect(request)


async def form_refused(request: Request, exc: Exception) -> Response:
    return refused_form(request)


async def not_allowed(request: Request, exc: Exception) -> Response:
    return not_allowed_page(request, getattr(exc, "permission", None))


async def suspended_page(request: Request, exc: Exception) -> Response:
    t = translator(language(request))
    return page(
        request,
        "error.html",
        status=403,
        heading=t("Account suspended"),
        message=str(exc),
        link=("/settings/moderation", t("Why, and how to appeal")),
    )
