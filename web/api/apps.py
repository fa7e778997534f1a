"""App registration (`/api/v1/apps`) and how a registered client proves who it is.

Apps are never deleted: installed clients keep their credentials for years.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from federation import values
from federation.values import InvalidValue
from models.settings import Settings
from models.tables import OAuthApp
from outbox.push_subscriptions import vapid_key
from web.api import serializers
from web.api.base import call, ok
from web.api.errors import ApiError, not_found, validation
from web.api.params import Params, read_params
from web.auth import new_token, parse_scopes, unknown_scopes
from web.node import node_of

OOB = "urn:ietf:wg:oauth:2.0:oob"
DEFAULT_SCOPES = ["read"]
MAX_REDIRECT_URIS = 20
MAX_URI_LENGTH = 2000
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
# Schemes a browser would run or read locally instead of handing to an app.
_FORBIDDEN_SCHEMES = frozenset({"javascript", "data", "vbscript", "file", "blob"})


def app_json(app: OAuthApp, settings: Settings, *, credentials: bool) -> dict[str, Any]:
    return serializers.registered_app(app, vapid_key(settings).public_key, credentials=credentials)


# --- what an app registers -------------------------------------------------------------


def _string_list(params: Params, name: str) -> list[str]:
    """A list given as one space/newline separated string or as an array (toot, Ice Cubes)."""
    value = params.raw(name)
    if value is None:
        return []
    if isinstance(value, str):
        return value.split()
    return [part for item in params.strings(name) for part in item.split()]


def check_redirect_uri(uri: str) -> None:
    if len(uri) > MAX_URI_LENGTH:
        raise validation(f"Redirect URI is too long (maximum is {MAX_URI_LENGTH} characters)")
    if uri == OOB:
        return
    if not _SCHEME.match(uri) or "#" in uri:
        raise validation("Redirect URI must be an absolute URI without a fragment")
    try:
        parts = urlsplit(uri)  # an app's own scheme (`myapp://callback`) is fine here
    except ValueError:
        raise validation("Redirect URI is not a valid URI") from None
    if parts.scheme.lower() in _FORBIDDEN_SCHEMES:
        raise validation(f"Redirect URI must not use the {parts.scheme}: scheme")
    if parts.scheme.lower() in ("http", "https"):
        try:
            values.http_url(uri)
        except InvalidValue as exc:
            raise validation(f"Redirect URI: {exc}") from None


def redirect_uris_from(params: Params) -> list[str]:
    uris = list(dict.fromkeys(_string_list(params, "redirect_uris")))
    if not uris:
        raise validation("Redirect URI can't be blank")
    if len(uris) > MAX_REDIRECT_URIS:
        raise validation(f"Redirect URIs are too many (maximum is {MAX_REDIRECT_URIS})")
    for uri in uris:
        check_redirect_uri(uri)
    return uris


def scopes_from(params: Params, name: str, default: list[str]) -> list[str]:
    """Requested scopes, de-duplicated in order; unknown ones are a validation error."""
    scopes = list(dict.fromkeys(parse_scopes(" ".join(_string_list(params, name)))))
    if not scopes:
        return list(default)
    unknown = unknown_scopes(scopes)
    if unknown:
        raise validation(f"Scopes unknown: {' '.join(unknown)}")
    return scopes


def website_from(params: Params) -> str | None:
    website = (params.text("website", max_length=MAX_URI_LENGTH) or "").strip()
    if not website:
        return None
    try:
        values.http_url(website)
    except InvalidValue:
        raise validation("Website must be an http or https URL") from None
    return website


# --- client authentication --------------------------------------------------------------


def client_credentials(request: Request, params: Params) -> tuple[str | None, str | None]:
    """client_id and client_secret from HTTP Basic auth (RFC 6749 2.3.1) or from the body."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic" and value.strip():
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise ApiError(401, "invalid_client", "Malformed Basic authorization") from None
        client_id, _, client_secret = decoded.partition(":")
        return unquote(client_id), unquote(client_secret)
    return params.text("client_id"), params.text("client_secret")


async def find_app(session: AsyncSession, client_id: str | None) -> OAuthApp | None:
    if not client_id:
        return None
    query = select(OAuthApp).where(OAuthApp.client_id == client_id)
    return (await session.execute(query)).scalar_one_or_none()


async def authenticate_client(session: AsyncSession, request: Request, params: Params) -> OAuthApp:
    """The app whose id and secret the request carries, or a 401 invalid_client."""
    client_id, client_secret = client_credentials(request, params)
    app = await find_app(session, client_id)
    if (
        app is None
        or not client_secret
        or not secrets.compare_digest(app.client_secret.encode(), client_secret.encode())
    ):
        raise ApiError(
            401,
            "invalid_client",
            "Client authentication failed due to unknown client, "
            "no client authentication included, or unsupported authentication method.",
        )
    return app


# --- endpoints ------------------------------------------------------------------------


async def create_app(request: Request) -> Response:
    params = await read_params(request)
    name = (params.text("client_name", max_length=255) or "").strip()
    if not name:
        raise validation("Application name can't be blank")
    app = OAuthApp(
        name=name,
        website=website_from(params),
        redirect_uris="\n".join(redirect_uris_from(params)),
        scopes=" ".join(scopes_from(params, "scopes", DEFAULT_SCOPES)),
        client_id=new_token(),
        client_secret=new_token(),
    )
    node = node_of(request)
    async with node.db.write() as session:
        session.add(app)
    return ok(app_json(app, node.settings, credentials=True))


async def verify_app_credentials(request: Request) -> Response:
    """Any valid token, an app's own or a user's, names the app it was issued to."""
    c = await call(request, user=False)
    assert c.caller is not None
    async with c.node.db.read() as session:
        app = await session.get(OAuthApp, c.caller.token.app_id or 0)
    if app is None:
        raise not_found()
    return ok(app_json(app, c.node.settings, credentials=False))


routes: list[BaseRoute] = [
    Route("/api/v1/apps", create_app, methods=["POST"]),
    Route("/api/v1/apps/verify_credentials", verify_app_credentials, methods=["GET"]),
]
