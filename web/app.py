"""The application factory: settings + database + routes + middleware = one ASGI app."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from federation.values import InvalidValue
from models.db import Database
from models.settings import Settings
from web.api.base import JSONResponse
from web.api.errors import ApiError
from web.api.file_routes import file_routes
from web.api.policy_gate import PolicyNotAccepted
from web.config import load_settings
from web.cors import PathCORSMiddleware
from web.logging import RequestObserver
from web.metrics import listening
from web.node import Node
from web.oidc import OpenIDClient
from web.ratelimit import RateLimiter, RateLimitMiddleware
from web.routes import routes
from web.runtime import running
from web.transport_security import TransportSecurityMiddleware
from web.ui.access import FormRefused, NotAllowed, SignInFirst
from web.ui.errors import (
    form_refused,
    not_allowed,
    not_found_page,
    sign_in_first,
    suspended_page,
    wants_page,
)
from web.ui.policy import policy_first
from web.ui.session import SESSION_LIFETIME, AccountSuspended

log = logging.getLogger("flurfunk.web")
STATIC = Path(__file__).parent / "ui" / "static"


class TrailingSlashMiddleware:
    """Serve `/api/v1/instance/` like `/api/v1/instance` (Mastodon.py and toot add slashes)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            path: str = scope["path"]
            if len(path) > 1 and path.endswith("/"):
                scope = dict(scope, path=path.rstrip("/") or "/")
        await self.app(scope, receive, send)


async def api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    body: dict[str, str] = {"error": exc.message}
    if isinstance(exc, PolicyNotAccepted):
        if wants_page(request):
            return policy_first(request)
        body["policy_url"] = exc.policy_url
    if exc.description:
        body["error_description"] = exc.description
    return JSONResponse(body, status_code=exc.status, headers=exc.headers)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404 and wants_page(request):
        return await not_found_page(request)
    message = "Record not found" if exc.status_code == 404 else str(exc.detail)
    return JSONResponse({"error": message}, status_code=exc.status_code, headers=exc.headers)


async def invalid_value(request: Request, exc: Exception) -> Response:
    """A request-derived value that no handler checked itself: still the sender's mistake."""
    log.info("refused %s %s: %s", request.method, request.url.path, exc)
    return JSONResponse({"error": str(exc)}, status_code=400)


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse({"error": "Internal server error"}, status_code=500)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or load_settings()
    db = Database(
        settings.database_url,
        settings.db_pool_size,
        settings.db_pool_overflow,
        default_language=settings.default_language,
    )
    node = Node(
        settings=settings,
        db=db,
        rate_limiter=RateLimiter(settings.rate_limit_requests, settings.rate_limit_window),
    )

    openid = OpenIDClient(settings) if settings.oidc_issuer else None

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with running(settings, db, in_process_workers=not settings.redis_url) as fed:
            node.federation = fed
            async with listening(settings.metrics_listen, db):
                yield
        if openid is not None:
            await openid.aclose()
        await db.dispose()

    app = Starlette(
        routes=[
            *routes(),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
            *file_routes(settings),
        ],
        middleware=[
            Middleware(TrailingSlashMiddleware),
            # After the slash is stripped (that copies the scope, and the router marks the
            # matched route in the scope it gets); before everything else that may log.
            Middleware(RequestObserver),
            Middleware(TransportSecurityMiddleware, public_url=settings.public_url),
            Middleware(PathCORSMiddleware),
            Middleware(RateLimitMiddleware),
            Middleware(
                SessionMiddleware,
                secret_key=settings.secret_key,
                session_cookie="flurfunk_session",
                max_age=int(SESSION_LIFETIME.total_seconds()),
                same_site="lax",
                https_only=settings.public_url.startswith("https"),
            ),
        ],
        exception_handlers={
            ApiError: api_error,
            HTTPException: http_error,
            InvalidValue: invalid_value,
            SignInFirst: sign_in_first,
            FormRefused: form_refused,
            NotAllowed: not_allowed,
            AccountSuspended: suspended_page,
            Exception: server_error,
        },
        lifespan=lifespan,
    )
    app.state.node = node
    app.state.openid = openid
    return app
