"""The node's own pages: the start page, signing in and out, and OAuth consent."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from web.api.grants import verify_login
from web.api.params import read_params
from web.login_guard import TooManyFailures, client_address
from web.node import node_of
from web.ui import consent
from web.ui.i18n import translator
from web.ui.render import language, page
from web.ui.session import CSRF_FIELD, csrf_valid, safe_next, sign_in, sign_out, signed_in

MAX_LOGIN_LENGTH = 320
MAX_PASSWORD_LENGTH = 1024


async def home(request: Request) -> Response:
    who = await signed_in(request)
    return page(request, "home.html", account=who[0] if who else None)


async def sign_in_form(request: Request) -> Response:
    next_page = safe_next(request.query_params.get("next"))
    return page(request, "sign_in.html", next=next_page, login="", error="")


async def sign_in_submit(request: Request) -> Response:
    params = await read_params(request)
    t = translator(language(request))
    next_page = safe_next(params.raw("next"))
    login = params.raw("login")
    password = params.raw("password")
    login = login.strip()[:MAX_LOGIN_LENGTH] if isinstance(login, str) else ""

    def again(status: int, message: str) -> Response:
        return page(
            request, "sign_in.html", status=status, next=next_page, login=login, error=message
        )

    if not csrf_valid(request, params.raw(CSRF_FIELD)):
        return again(403, t("session_expired"))
    account = None
    if isinstance(password, str) and 0 < len(password) <= MAX_PASSWORD_LENGTH and login:
        node = node_of(request)
        try:
            account = await verify_login(
                node.db, login, password, guard=node.login_guard, address=client_address(request)
            )
        except TooManyFailures as exc:
            refused = again(429, t("too_many_sign_ins").format(minutes=-(-exc.retry_after // 60)))
            refused.headers["Retry-After"] = str(exc.retry_after)
            return refused
    if account is None:
        return again(401, t("wrong_login"))
    sign_in(request, account.id)
    return RedirectResponse(next_page, status_code=303)


async def sign_out_submit(request: Request) -> Response:
    params = await read_params(request)
    if csrf_valid(request, params.raw(CSRF_FIELD)):
        sign_out(request)
    return RedirectResponse(safe_next(params.raw("next")), status_code=303)


routes: list[BaseRoute] = [
    Route("/", home, methods=["GET"]),
    Route("/auth/sign_in", sign_in_form, methods=["GET"]),
    Route("/auth/sign_in", sign_in_submit, methods=["POST"]),
    Route("/auth/sign_out", sign_out_submit, methods=["POST"]),
    *consent.routes,
]
