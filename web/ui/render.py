"""Server-rendered pages: Jinja templates with the visitor's language and safe headers."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from outbox.permissions import may_administer
from outbox.reminder import reminder
from web.node import node_of
from web.ui import formats
from web.ui.cards import cached_card
from web.ui.i18n import (
    LANGUAGE_NAMES,
    Translate,
    choose_language,
    plural_translator,
    translator,
)
from web.ui.session import CSRF_FIELD, csrf_token

if TYPE_CHECKING:
    from jinja2 import Environment

TEMPLATES = Path(__file__).parent / "templates"
PREFERRED_LANGUAGE = "web:language"  # the key in a user's preferences


@functools.cache
def _environment() -> Environment:
    # Jinja is loaded with the first page: a node serving only apps and peers never needs it.
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        # Templates change only with a new release: no stat() of every template per page.
        auto_reload=False,
    )
    env.filters.update(formats.FILTERS)
    env.globals["cached_card"] = cached_card
    return env


# Scripts and styles only from the node itself: no inline script, no inline handler, no CDN.
# Never inside another site's frame (clickjacking of the consent button). No form-action
# rule: after consent the browser must follow a redirect to the app's own scheme
# (oauth2redirect://…), which form-action would block in Chromium. Images may come from other
# nodes (avatars, attachments of remote posts).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data: https: http:; media-src 'self' https: http:; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
HSTS = "max-age=31536000"


def language(request: Request, preferred: str | None = None) -> str:
    """An explicit choice, then the signed-in user's setting, then the browser's languages."""
    if preferred is None:
        caller = request.scope.get("flurfunk.web_caller")
        user = caller.user if caller is not None else None
        chosen = (user.preferences or {}).get(PREFERRED_LANGUAGE) if user else None
        preferred = chosen if isinstance(chosen, str) else None
    return choose_language(request.headers.get("accept-language", ""), preferred)


def secure_headers(request: Request, lang: str) -> dict[str, str]:
    headers = dict(SECURITY_HEADERS)
    headers["Content-Language"] = lang
    headers["Vary"] = "Accept, Accept-Language, Cookie"
    if node_of(request).settings.public_url.startswith("https:"):
        headers["Strict-Transport-Security"] = HSTS
    return headers


def _html(request: Request, template: str, lang: str, context: dict[str, Any]) -> str:
    t: Translate = translator(lang)
    settings = node_of(request).settings
    caller = request.scope.get("flurfunk.web_caller")
    context.setdefault("me", caller.account if caller is not None else None)
    user = caller.user if caller is not None else None
    context.setdefault("staff", user is not None and may_administer(user.role))
    context.setdefault("nav", "")
    context.setdefault("flash", request.session.pop("flash", ""))
    context.setdefault(
        "visibility_names",
        {
            "public": t("Public"),
            "unlisted": t("Unlisted"),
            "private": t("Followers only"),
            "direct": t("Direct (mentioned people only)"),
            "local": t("This node only"),
        },
    )
    return (
        _environment()
        .get_template(template)
        .render(
            _=t,
            t=t,
            tn=plural_translator(lang),
            lang=lang,
            languages=LANGUAGE_NAMES,
            domain=settings.domain,
            public_url=settings.public_url,
            max_chars=settings.max_status_chars,
            csrf_field=CSRF_FIELD,
            csrf_token=csrf_token(request),
            path=request.url.path,
            **context,
        )
    )


def page(
    request: Request,
    template: str,
    *,
    status: int = 200,
    lang: str | None = None,
    **context: Any,
) -> Response:
    """Render a page in the visitor's language; every form gets the session's CSRF token;
    signed-in pages get the header with search, navigation and sign-out."""
    chosen = lang or language(request)
    html = _html(request, template, chosen, context)
    return HTMLResponse(html, status_code=status, headers=secure_headers(request, chosen))


def render_fragment(request: Request, template: str, **context: Any) -> Response:
    """A piece of a page (one status) for the live script to insert."""
    chosen = language(request)
    html = _html(request, template, chosen, context)
    return HTMLResponse(html, headers=secure_headers(request, chosen))


async def composer_reminder(request: Request) -> str:
    """The node's confidentiality reminder, shown above every composer (outbox.reminder)."""
    async with node_of(request).db.read() as session:
        return await reminder(session)
