"""The OAuth2 endpoints apps talk to directly: token, revoke, userinfo and discovery.

The browser side (`/oauth/authorize`: sign-in and consent) lives in web/ui/consent.py.
Errors here are OAuth-shaped: `{"error": "invalid_grant", "error_description": "…"}`.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from web.api import serializers
from web.api.apps import authenticate_client
from web.api.base import call, ok
from web.api.errors import ApiError
from web.api.grants import (
    Grant,
    grant,
    granted_scopes,
    oauth_error,
    redeem_code,
    revoke,
    rotate_refresh_token,
    scope_param,
    verify_login,
)
from web.api.params import Params, read_params
from web.auth import KNOWN_SCOPES, TOP_SCOPES
from web.login_guard import TooManyFailures, client_address
from web.node import Node, node_of

GRANT_TYPES = ["authorization_code", "password", "client_credentials", "refresh_token"]
# RFC 6749 5.1: token responses must not be cached anywhere.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


async def _password_grant(node: Node, request: Request, params: Params) -> Grant:
    async with node.db.read() as session:
        app = await authenticate_client(session, request, params)
    if node.settings.oidc_only:
        raise oauth_error(
            "unauthorized_client",
            "Password sign-in is turned off on this node: use the authorization code flow "
            "(/oauth/authorize), which signs in with the company account.",
            status=403,
        )
    scopes = granted_scopes(scope_param(params), app)
    try:
        account = await verify_login(
            node.db,
            params.text("username") or "",
            params.text("password") or "",
            guard=node.login_guard,
            address=client_address(request),
        )
    except TooManyFailures as exc:
        raise ApiError(
            429,
            "Too many failed sign-ins",
            f"Try again in {-(-exc.retry_after // 60)} minute(s).",
            headers={"Retry-After": str(exc.retry_after)},
        ) from None
    if account is None:
        raise oauth_error(
            "invalid_grant", "The user name or e-mail address or the password is wrong."
        )
    async with node.db.write() as session:
        return await grant(session, app, account.id, scopes)


async def token(request: Request) -> Response:
    node = node_of(request)
    params = await read_params(request)
    grant_type = params.text("grant_type")
    if not grant_type:
        raise oauth_error("invalid_request", "The grant_type parameter is missing.")
    if grant_type not in GRANT_TYPES:
        raise oauth_error("unsupported_grant_type", f"The grant type {grant_type} is unsupported.")
    if grant_type == "password":
        issued = await _password_grant(node, request, params)
        return ok(issued.json(), headers=NO_STORE)
    async with node.db.write() as session:
        app = await authenticate_client(session, request, params)
        if grant_type == "authorization_code":
            issued = await redeem_code(session, app, params)
        elif grant_type == "refresh_token":
            issued = await rotate_refresh_token(session, app, params)
        else:
            scopes = granted_scopes(scope_param(params), app)
            issued = await grant(session, app, None, scopes, with_refresh=False)
    return ok(issued.json(), headers=NO_STORE)


async def revoke_token(request: Request) -> Response:
    node = node_of(request)
    params = await read_params(request)
    async with node.db.write() as session:
        app = await authenticate_client(session, request, params)
        value = params.text("token")
        if not value:
            raise oauth_error("invalid_request", "The token parameter is missing.")
        await revoke(session, app, value)
    return ok()


async def userinfo(request: Request) -> Response:
    """OpenID Connect-style facts about the signed-in account (needs the `profile` scope)."""
    c = await call(request, "profile")
    settings = c.node.settings
    entity = serializers.account(c.account, c.node.links())
    return ok(
        {
            "iss": settings.url("/"),
            "sub": entity["uri"],
            "name": c.account.display_name or c.account.username,
            "preferred_username": c.account.username,
            "profile": entity["url"],
            "picture": entity["avatar"],
        }
    )


async def discovery(request: Request) -> Response:
    """RFC 8414 metadata; every URL from PUBLIC_URL, whatever Host the request named."""
    url = node_of(request).settings.url
    return ok(
        {
            "issuer": url("/"),
            "service_documentation": "https://docs.joinmastodon.org/",
            "authorization_endpoint": url("/oauth/authorize"),
            "token_endpoint": url("/oauth/token"),
            "revocation_endpoint": url("/oauth/revoke"),
            "userinfo_endpoint": url("/oauth/userinfo"),
            "app_registration_endpoint": url("/api/v1/apps"),
            "scopes_supported": [*TOP_SCOPES, *sorted(KNOWN_SCOPES - set(TOP_SCOPES))],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "code_challenge_methods_supported": ["S256"],
            "grant_types_supported": GRANT_TYPES,
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
            ],
        }
    )


routes: list[BaseRoute] = [
    Route("/oauth/token", token, methods=["POST"]),
    Route("/oauth/revoke", revoke_token, methods=["POST"]),
    Route("/oauth/userinfo", userinfo, methods=["GET", "POST"]),
    Route("/.well-known/oauth-authorization-server", discovery, methods=["GET"]),
]
