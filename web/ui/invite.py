"""`/auth/invite/TOKEN`: an invited colleague chooses their password and is signed in.

An unknown token answers 404, a used or expired one 410, each with a page that says so; only
a valid invite shows the form. The token is checked again when the form comes back, so a link
used in another tab meanwhile is refused there too.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from outbox.invites import InviteGone, UnknownInvite, open_invite, use_invite
from web.auth import hash_password
from web.node import node_of
from web.ui.access import checked_form
from web.ui.i18n import translator
from web.ui.render import language, page
from web.ui.session import sign_in

MIN_PASSWORD = 8
MAX_PASSWORD = 1024


def _refused(request: Request, exc: LookupError) -> Response:
    t = translator(language(request))
    if isinstance(exc, InviteGone):
        return page(
            request,
            "error.html",
            status=410,
            me=None,
            heading=t("This invite link is no longer valid"),
            message=t("It was used already or has expired. Ask an administrator for a new one."),
        )
    return page(
        request,
        "error.html",
        status=404,
        me=None,
        heading=t("Unknown invite link"),
        message=t("Check that the whole link was copied, or ask an administrator for a new one."),
    )


def _form(request: Request, token: str, name: str, error: str = "", status: int = 200) -> Response:
    return page(request, "invite.html", status=status, me=None, token=token, name=name, error=error)


async def invite_page(request: Request) -> Response:
    token = str(request.path_params["token"])
    try:
        async with node_of(request).db.read() as session:
            _, account, _ = await open_invite(session, token)
    except (UnknownInvite, InviteGone) as exc:
        return _refused(request, exc)
    return _form(request, token, account.username)


async def accept_invite(request: Request) -> Response:
    token = str(request.path_params["token"])
    form = await checked_form(request)
    t = translator(language(request))
    password = str(form.get("password") or "")
    node = node_of(request)
    try:
        async with node.db.read() as session:
            _, account, _ = await open_invite(session, token)
    except (UnknownInvite, InviteGone) as exc:
        return _refused(request, exc)
    if password != str(form.get("confirm_password") or ""):
        return _form(request, token, account.username, t("The passwords do not match."), 422)
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        error = t("The password needs at least %(count)s characters.", count=MIN_PASSWORD)
        return _form(request, token, account.username, error, 422)
    password_hash = hash_password(password)  # before the write: hashing takes a while
    try:
        async with node.db.write() as session:
            account = await use_invite(session, token, password_hash)
    except (UnknownInvite, InviteGone) as exc:
        return _refused(request, exc)
    await sign_in(request, account.id)
    return RedirectResponse("/", status_code=303)


routes: list[BaseRoute] = [
    Route("/auth/invite/{token}", invite_page, methods=["GET"]),
    Route("/auth/invite/{token}", accept_invite, methods=["POST"]),
]
