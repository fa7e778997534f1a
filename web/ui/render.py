"""Server-rendered pages: Jinja templates with the visitor's language and safe headers."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from web.node import node_of
from web.ui.i18n import Translate, choose_language, translator
from web.ui.session import CSRF_FIELD, csrf_token

if TYPE_CHECKING:
    from jinja2 import Environment

TEMPLATES = Path(__file__).parent / "templates"


@functools.cache
def _environment() -> Environment:
    # Jinja is loaded with the first page: a node serving only apps and peers never needs it.
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


# Pages never load scripts, and never run inside another site's frame (clickjacking of the
# consent button). No form-action rule: after consent the browser must follow a redirect to
# the app's own scheme (oauth2redirect://…), which form-action would block in Chromium.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def language(request: Request, preferred: str | None = None) -> str:
    return choose_language(request.headers.get("accept-language", ""), preferred)


def page(
    request: Request,
    template: str,
    *,
    status: int = 200,
    lang: str | None = None,
    **context: Any,
) -> Response:
    """Render a page in the visitor's language; every form gets the session's CSRF token."""
    chosen = lang or language(request)
    t: Translate = translator(chosen)
    html = (
        _environment()
        .get_template(template)
        .render(
            t=t,
            lang=chosen,
            domain=node_of(request).settings.domain,
            csrf_field=CSRF_FIELD,
            csrf_token=csrf_token(request),
            **context,
        )
    )
    headers = dict(SECURITY_HEADERS)
    headers["Content-Language"] = chosen
    headers["Vary"] = "Accept-Language, Cookie"
    return HTMLResponse(html, status_code=status, headers=headers)
