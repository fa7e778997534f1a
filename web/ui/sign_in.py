"""Signing in and out of the node's own pages."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from web.api.grants import verify_login
from web.api.params import read_params
from web.login_guard import TooManyFailures, client_address
from web.node import node_of
from web.ui.i18n import plural_translator, translator
from web.ui.render import language, page
from web.ui.session import CSRF_FIELD, csrf_valid, safe_next, sign_in, sign_out

MAX_LOGIN_LENGTH = 320
MAX_PASSWORD_LENGTH = 1024


def sign_on_choices(request: Request, next_page: str) -> dict[str, Any]:
    """What the sign-in page offers: the company sign-on link (with an issuer set) and the
    password form (unless OIDC_ONLY)."""
    settings = node_of(request).settings
    link = "/auth/oidc?" + urlencode({"next": next_page}) if settings.oidc_issuer else ""
    return {"sign_on_url": link, "passwords": not settings.oidc_only}


def sign_in_page(request: Request, *, welcome: bool = False, status: int = 200) -> Response:
    next_page = safe_next(request.query_params.get("next"))
    return page(
        request,
        "sign_in.html",
        status=status,
        me=None,
        next=next_page,
        login="",
        error="",
        welcome=welcome,
        **sign_on_choices(request, next_page),
    )


async def sign_in_form(request: Request) -> Response:
    return sign_in_page(request)


async def sign_in_submit(request: Request) -> Response:
    params = await read_params(request)
    t = translator(language(request))
    next_page = safe_next(params.raw("next"))
    login = params.raw("login")
    password = params.raw("password")
    login = login.strip()[:MAX_LOGIN_LENGTH] if isinstance(login, str) else ""

    def again(status: int, message: str) -> Response:
        return page(
            request,
            "sign_in.html",
            status=status,
            me=None,
            next=next_page,
            login=login,
            error=message,
            **sign_on_choices(request, next_page),
        )

    if node_of(request).settings.oidc_only:
        return again(403, t("Password sign-in is turned off: sign in with your company account."))
    if not csrf_valid(request, params.raw(CSRF_FIELD)):
        return again(403, t("Your session has expired. Please try again."))
    account = None
    if isinstance(password, str) and 0 < len(password) <= MAX_PASSWORD_LENGTH and login:
        node = node_of(request)
        try:
            account = await verify_login(
                node.db, login, password, guard=node.login_guard, address=client_address(request)
            )
        except TooManyFailures as exc:
            minutes = -(-exc.retry_after // 60)
            tn = plural_translator(language(request))
            refused = again(
                429,
                tn(
                    "Too many failed sign-ins. Please try again in %(num)s minute.",
                    "Too many failed sign-ins. Please try again in %(num)s minutes.",
                    minutes,
                ),
            )
            refused.headers["Retry-After"] = str(exc.retry_after)
            return refused
    if account is None:
        return again(401, t("The e-mail address, user name or password is wrong."))
    await sign_in(request, account.id)
    if account.suspended_at is not None:  # all they may open: why, and how to appeal
        next_page = "/settings/moderation"
    return RedirectResponse(next_page, status_code=303)


async def sign_out_submit(request: Request) -> Response:
    params = await read_params(request)
    if csrf_valid(request, params.raw(CSRF_FIELD)):
        await sign_out(request)
        return RedirectResponse(safe_next(params.raw("next")), status_code=303)
    return RedirectResponse("/", status_code=303)


routes: list[BaseRoute] = [
    Route("/auth/sign_in", sign_in_form, methods=["GET"]),
    Route("/auth/sign_in", sign_in_submit, methods=["POST"]),
    Route("/auth/sign_out", sign_out_submit, methods=["POST"]),
]
