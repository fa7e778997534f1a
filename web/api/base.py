"""What every client-API endpoint uses: JSON answers, the caller, pagination."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode

import orjson
from sqlalchemy import ColumnElement, Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from starlette.requests import Request
from starlette.responses import Response

from federation import values
from federation.values import InvalidValue
from models.tables import Account, User
from web.api.errors import ApiError
from web.api.params import Params, read_params
from web.auth import Caller, caller_for_token, scope_allows, suspension_error
from web.node import Node, node_of

Cursor = ColumnElement[int] | InstrumentedAttribute[int]
AnySelect = TypeVar("AnySelect", bound=Select[*tuple[Any, ...]])


class JSONResponse(Response):
    media_type = "application/json; charset=utf-8"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def ok(data: Any = None, *, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer; an empty success is `{}` as clients expect."""
    return JSONResponse({} if data is None else data, status_code=status, headers=headers)


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.query_params.get("access_token") or None


@dataclass(frozen=True)
class Call:
    """One authenticated API call: the node, the caller and the parameters."""

    node: Node
    caller: Caller | None
    params: Params
    request: Request

    @property
    def account(self) -> Account:
        """The signed-in account; only on endpoints that required one."""
        assert self.caller is not None
        assert self.caller.account is not None
        return self.caller.account

    @property
    def user(self) -> User:
        assert self.caller is not None
        assert self.caller.user is not None
        return self.caller.user

    @property
    def viewer_id(self) -> int | None:
        account = self.caller.account if self.caller else None
        return account.id if account else None


# The caller of a call that the node's own pages make in-process (web.ui.calls); only page
# code puts it into a request's scope, never a cookie, so the API itself stays token-only.
PAGE_CALLER = "flurfunk.page_caller"
# The caller a bearer token named, once looked up in this request (by the policy gate): the
# endpoint then does not look the same token up a second time.
TOKEN_CALLER = "flurfunk.token_caller"


async def identify(request: Request, session: AsyncSession) -> Caller | None:
    token = bearer_token(request)
    if token is None:
        page_caller: Caller | None = request.scope.get(PAGE_CALLER)
        return page_caller
    caller = request.scope.get(TOKEN_CALLER) or await caller_for_token(session, token)
    if caller is None:
        raise ApiError(401, "The access token is invalid")
    return caller


# What a suspended account may still do, so that it learns why and can appeal.
SUSPENDED_MAY = re.compile(
    r"^(GET /api/v1/accounts/verify_credentials"
    r"|GET /api/v[12]/instance/?"
    r"|GET /api/v[12]/notifications(/[^/]+(/accounts)?)?"
    r"|GET /api/v1/flurfunk/warnings(/\d+)?"
    r"|(GET|POST) /api/v1/flurfunk/appeals"
    r"|GET /api/v1/flurfunk/appeals/\d+)$"
)


def suspended_may(request: Request) -> bool:
    return SUSPENDED_MAY.match(f"{request.method} {request.url.path}") is not None


async def call(
    request: Request,
    scope: str | None = None,
    *,
    user: bool = True,
    optional: bool = False,
    session: AsyncSession | None = None,
) -> Call:
    """Authenticate and read parameters.

    `scope` is the OAuth scope the endpoint needs; `user=False` admits app-only tokens;
    `optional=True` admits anonymous callers (public endpoints) but still rejects bad tokens.
    `session`: look the token up in it (a hot endpoint then reads in one pooled session).
    """
    node = node_of(request)
    if session is not None:
        caller = await identify(request, session)
    else:
        async with node.db.read() as own_session:
            caller = await identify(request, own_session)
    if caller is None and not optional:
        raise ApiError(401, "The access token is invalid")
    if caller is not None:
        refusal = suspension_error(caller.account)
        if refusal is not None and not suspended_may(request):
            raise ApiError(403, refusal)
        if scope is not None and not optional and not scope_allows(caller.scopes, scope):
            raise ApiError(403, "This action is outside the authorized scopes")
        if user and not optional and caller.account is None:
            raise ApiError(422, "This method requires an authenticated user")
    params = await read_params(request)
    return Call(node, caller, params, request)


# --- pagination ------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    max_id: int | None
    since_id: int | None
    min_id: int | None
    limit: int
    offset: int = 0

    def apply(self, query: AnySelect, column: Cursor) -> AnySelect:
        """Newest first; with min_id, the page right after min_id (fetched oldest first)."""
        if self.max_id is not None:
            query = query.where(column < self.max_id)
        if self.since_id is not None:
            query = query.where(column > self.since_id)
        if self.min_id is not None:
            query = query.where(column > self.min_id).order_by(column.asc())
        else:
            query = query.order_by(column.desc())
        return query.limit(self.limit).offset(self.offset)

    def settle(self, rows: Sequence[Any]) -> list[Any]:
        """Rows in newest-first order, whichever way they were fetched."""
        return list(reversed(rows)) if self.min_id is not None else list(rows)


def _cursor(params: Params, name: str) -> int | None:
    value = params.raw(name)
    if value is None or value == "":
        return None
    try:
        return values.row_id(value)
    except InvalidValue:
        return None  # an unusable cursor pages from the start, as Mastodon does


def page_of(params: Params, default: int, maximum: int) -> Page:
    limit = params.number("limit", default, minimum=1, maximum=maximum) or default
    offset = params.number("offset", 0, minimum=0) or 0
    return Page(
        _cursor(params, "max_id"),
        _cursor(params, "since_id"),
        _cursor(params, "min_id"),
        limit,
        offset,
    )


def paginated(c: Call, items: list[Any], cursor_ids: Sequence[int]) -> Response:
    """Answer a page with a Link header: `next` (older) first, then `prev` (newer)."""
    headers = {}
    if cursor_ids:
        keep = {
            k: v
            for k, v in c.request.query_params.multi_items()
            if k not in ("max_id", "since_id", "min_id")
        }
        base = c.node.settings.url(c.request.url.path)

        def link(key: str, value: int) -> str:
            query = urlencode([*keep.items(), (key, str(value))])
            return f"{base}?{query}"

        headers["Link"] = (
            f'<{link("max_id", cursor_ids[-1])}>; rel="next", '
            f'<{link("min_id", cursor_ids[0])}>; rel="prev"'
        )
    return ok(items, headers=headers)
