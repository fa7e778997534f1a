"""What every page handler needs: the signed-in user or a way to sign in, checked forms,
and where to send the browser after a form."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from outbox.permissions import Operator
from outbox.roles import operator_for
from web.auth import Caller
from web.node import node_of
from web.ui.i18n import translator
from web.ui.render import language, page
from web.ui.session import CSRF_FIELD, csrf_valid, safe_next, web_caller

MAX_FORM_FIELDS = 200
MAX_UPLOAD = 64 * 1024 * 1024


class SignInFirst(Exception):
    """Raised by `viewer` on a page that needs a signed-in user; answered by a redirect."""


async def viewer(request: Request) -> Caller:
    caller = await web_caller(request)
    if caller is None:
        raise SignInFirst
    return caller


class NotAllowed(Exception):
    """Raised by `staff` for a signed-in user without the permission a page needs; answered
    403 with the permission named."""

    def __init__(self, permission: str | None = None) -> None:
        super().__init__(permission)
        self.permission = permission


async def staff(request: Request, permission: str | None = None) -> Caller:
    """The signed-in user, if their role holds `permission` (or, without one, any permission
    at all: the admin pages use this). Their operator is then `operator_of(request)`."""
    caller = await viewer(request)
    if caller.user is None or caller.account is None:
        raise NotAllowed(permission)
    async with node_of(request).db.read() as session:
        operator = await operator_for(
            session, caller.account.username, caller.user.role, caller.account.id
        )
    if not operator.permissions:
        raise NotAllowed
    if permission is not None and not operator.may(permission):
        raise NotAllowed(permission)
    request.state.operator = operator
    return caller


def operator_of(request: Request) -> Operator:
    """Who does the admin action of this request (set by `staff`)."""
    operator: Operator = request.state.operator
    return operator


def not_allowed_page(request: Request, permission: str | None = None) -> Response:
    t = translator(language(request))
    if permission is None:
        message = t("This page is for administrators.")
    else:
        message = t("This action requires the permission %(permission)s.", permission=permission)
    return page(request, "error.html", status=403, message=message)


def sign_in_redirect(request: Request) -> Response:
    target = request.url.path + ("?" + request.url.query if request.url.query else "")
    return RedirectResponse("/auth/sign_in?" + urlencode({"next": target}), status_code=303)


class FormRefused(Exception):
    """A form without the session's CSRF token (or unreadable): nothing is changed."""


async def checked_form(request: Request) -> FormData:
    """The submitted form, once its CSRF token matched the session's."""
    try:
        form = await request.form(max_files=4, max_fields=MAX_FORM_FIELDS, max_part_size=MAX_UPLOAD)
    except Exception:  # the multipart parser raises types of its own for a broken body
        raise FormRefused from None
    if not csrf_valid(request, form.get(CSRF_FIELD)):
        raise FormRefused
    return form


def refused_form(request: Request) -> Response:
    t = translator(language(request))
    return page(
        request, "error.html", status=403, message=t("Your session has expired. Please try again.")
    )


def flash(request: Request, message: str) -> None:
    """A message for the next page the browser shows (after a redirect)."""
    request.session["flash"] = message


def back(form: FormData | dict[str, Any], fallback: str = "/") -> Response:
    """After a form: back where it was sent from (a path on this node only)."""
    target = safe_next(form.get("next")) if form.get("next") else fallback
    return RedirectResponse(target, status_code=303)
