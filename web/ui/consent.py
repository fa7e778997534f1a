"""`/oauth/authorize`: the page where a signed-in user lets an app use their account.

GET checks the request and shows the consent page (or sends the visitor to sign in first);
POST repeats the check, then issues a code and sends the browser back to the app, or shows
the code for out-of-band apps (`urn:ietf:wg:oauth:2.0:oob`).
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from web.api.base import ok
from web.api.grants import AuthorizationError, AuthorizationRequest, authorization_request
from web.api.grants import issue_code as new_code
from web.api.params import Params, read_params
from web.node import node_of
from web.ui.i18n import describe_scope, translator
from web.ui.render import language, page
from web.ui.session import CSRF_FIELD, csrf_valid, signed_in

# The request parameters the consent form carries back; nothing else is repeated.
REQUEST_FIELDS = (
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "lang",
)


def _refusal(request: Request, exc: AuthorizationError, lang: str) -> Response:
    """Tell the app when it may be told; otherwise tell the person in front of the browser."""
    if exc.redirect_to is not None:
        return RedirectResponse(exc.redirect_to, status_code=302)
    if "text/html" not in request.headers.get("accept", ""):
        return ok({"error": exc.error, "error_description": exc.description}, status=400)
    return page(request, "error.html", status=400, lang=lang, message=exc.description)


def _sign_in_first(params: Params) -> Response:
    """Send the visitor to sign in, and back to this very authorization request afterwards."""
    query = urlencode(
        [(k, str(params.raw(k))) for k in REQUEST_FIELDS if params.raw(k) is not None]
    )
    target = "/oauth/authorize?" + query
    return RedirectResponse("/auth/sign_in?" + urlencode({"next": target}), status_code=302)


def _lang(request: Request, params: Params) -> str:
    raw = params.raw("lang")
    return language(request, raw if isinstance(raw, str) else None)


def _force_login(params: Params) -> bool:
    return str(params.raw("force_login") or "").lower() in ("1", "true", "on", "yes")


async def show_consent(request: Request) -> Response:
    node = node_of(request)
    params = await read_params(request)
    lang = _lang(request, params)
    async with node.db.read() as session:
        try:
            wanted = await authorization_request(session, params)
        except AuthorizationError as exc:
            return _refusal(request, exc, lang)
    who = await signed_in(request)
    if who is None or _force_login(params):
        return _sign_in_first(params)
    t = translator(lang)
    return page(
        request,
        "authorize.html",
        lang=lang,
        me=None,
        app_name=wanted.app.name,
        website=wanted.app.website or "",
        account=who[0],
        scopes=[(scope, describe_scope(scope, t)) for scope in wanted.scopes],
        fields=[*wanted.fields(), ("lang", lang)],
        back_to=request.url.path + "?" + request.url.query,
    )


async def decide(request: Request) -> Response:
    node = node_of(request)
    params = await read_params(request)
    lang = _lang(request, params)
    t = translator(lang)
    who = await signed_in(request)
    if who is None:
        return _sign_in_first(params)
    if not csrf_valid(request, params.raw(CSRF_FIELD)):
        return page(
            request,
            "error.html",
            status=403,
            lang=lang,
            message=t("Your session has expired. Please try again."),
        )
    if params.text("decision") != "approve":
        async with node.db.read() as session:
            try:
                wanted = await authorization_request(session, params)
            except AuthorizationError as exc:
                return _refusal(request, exc, lang)
        return _denied(request, wanted, lang)
    async with node.db.write() as session:
        try:
            wanted = await authorization_request(session, params)
        except AuthorizationError as exc:
            return _refusal(request, exc, lang)
        code = await new_code(session, wanted, who[0].id)
    if wanted.out_of_band:
        return page(request, "code.html", lang=lang, app_name=wanted.app.name, code=code)
    return RedirectResponse(wanted.redirect(code=code), status_code=302)


def _denied(request: Request, wanted: AuthorizationRequest, lang: str) -> Response:
    if wanted.out_of_band:
        t = translator(lang)
        message = t("You did not allow %(app)s to use your account.", app=wanted.app.name)
        return page(request, "error.html", status=403, lang=lang, message=message)
    description = "The resource owner or authorization server denied the request."
    target = wanted.redirect(error="access_denied", error_description=description)
    return RedirectResponse(target, status_code=302)


routes: list[BaseRoute] = [
    Route("/oauth/authorize", show_consent, methods=["GET"]),
    Route("/oauth/authorize", decide, methods=["POST"]),
]
