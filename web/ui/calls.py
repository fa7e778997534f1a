"""The pages read and write through the client API's own endpoint code, in-process.

A page hands an endpoint a request of its own making: the same scope (session, client
address), the method, path parameters, query and JSON body the page chose, and the
signed-in browser session as the caller. No HTTP goes over the wire and no token leaves the
server; the answer is the very JSON an app would get, which the templates then show. So a
timeline page and `GET /api/v1/timelines/home` read the same rows with the same filters.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Message

from web.api import (
    accounts,
    admin_accounts,
    conversations,
    groups,
    lists,
    misc,
    moderation,
    notifications,
    polls,
    relationships,
    reports,
    search,
    status_actions,
    statuses,
    suggestions,
    tags,
    timelines,
    trends,
)
from web.api.base import PAGE_CALLER
from web.api.errors import ApiError
from web.api.policy_gate import PolicyNotAccepted
from web.ui.session import web_caller

Endpoint = Callable[[Request], Awaitable[Response]]
API_MODULES = (
    accounts,
    admin_accounts,
    conversations,
    groups,
    lists,
    misc,
    moderation,
    notifications,
    polls,
    relationships,
    reports,
    search,
    status_actions,
    statuses,
    suggestions,
    tags,
    timelines,
    trends,
)


@functools.cache
def _endpoints() -> dict[tuple[str, str], Endpoint]:
    found: dict[tuple[str, str], Endpoint] = {}
    for module in API_MODULES:
        route: BaseRoute
        for route in module.routes:
            if isinstance(route, Route):
                for method in route.methods or ():
                    found[(method, route.path)] = route.endpoint
    return found


_ROUTE_PARAM = re.compile(r"\{(\w+)\}")
ADMIN_SCOPES = frozenset({"admin:read", "admin:write"})
NEXT_PAGE = re.compile(r"[?&]max_id=(\d+)[^>]*>;\s*rel=\"next\"")


@dataclass(frozen=True)
class Answer:
    status: int
    data: Any
    link: str = ""

    @property
    def older(self) -> str | None:
        """The cursor of the next (older) page, from the Link header the API sent."""
        found = NEXT_PAGE.search(self.link)
        return found.group(1) if found else None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def error(self) -> str:
        if isinstance(self.data, dict):
            return str(self.data.get("error", ""))
        return ""


async def api(
    request: Request,
    method: str,
    route: str,
    *,
    path: Mapping[str, Any] | None = None,
    query: Mapping[str, Any] | None = None,
    body: Mapping[str, Any] | None = None,
    files: Mapping[str, UploadFile] | None = None,
    admin: bool = False,
) -> Answer:
    """Run the API endpoint of `method` and `route` (its path as the API declares it, e.g.
    `/api/v1/statuses/{id}`) as the signed-in user, or anonymously, and return its answer.

    `admin`: the admin pages call the admin API with the admin scopes, which the browser
    session's token does not carry (it is the node's own first-party session; the endpoint
    still checks the person's permission)."""
    endpoint = _endpoints()[(method, route)]
    scope = dict(request.scope)
    if files:
        content_type, payload = await _multipart(body or {}, files)
    else:
        content_type, payload = b"application/json", orjson.dumps(dict(body or {}))
    params = dict(path or {})
    scope.update(
        method=method,
        # The endpoint sees the API path it serves (a suspended caller's checks go by it).
        path=_ROUTE_PARAM.sub(lambda m: str(params.get(m.group(1), "")), route),
        path_params=params,
        query_string=urlencode(
            [(k, v) for k, v in (query or {}).items() if v is not None], doseq=True
        ).encode(),
        headers=[
            (b"content-type", content_type),
            (b"content-length", str(len(payload)).encode()),
            (b"accept", b"application/json"),
            *(
                (k, v)
                for k, v in request.scope["headers"]
                if k in (b"user-agent", b"accept-language", b"x-forwarded-for")
            ),
        ],
    )
    caller = await web_caller(request)
    if admin and caller is not None:
        caller = dataclasses.replace(caller, scopes=caller.scopes | ADMIN_SCOPES)
    scope[PAGE_CALLER] = caller

    async def receive() -> Message:
        return {"type": "http.request", "body": payload, "more_body": False}

    try:
        response = await endpoint(Request(scope, receive))
    except PolicyNotAccepted:
        raise  # the browser goes to the policy page, whichever form it sent
    except ApiError as exc:
        return Answer(exc.status, {"error": exc.message})
    except HTTPException as exc:
        return Answer(exc.status_code, {"error": str(exc.detail)})
    body_bytes = bytes(response.body)
    data = orjson.loads(body_bytes) if body_bytes else None
    return Answer(response.status_code, data, response.headers.get("link", ""))


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", "").replace("\n", "")


async def _multipart(
    fields: Mapping[str, Any], files: Mapping[str, UploadFile]
) -> tuple[bytes, bytes]:
    """A form with files as the API's multipart endpoints read it (profile images)."""
    boundary = "flurfunk-" + secrets.token_hex(12)
    parts: list[bytes] = []
    for name, value in fields.items():
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{_quoted(name)}"\r\n\r\n'
        parts.append(head.encode() + str(value).encode() + b"\r\n")
    for name, file in files.items():
        await file.seek(0)
        head = (
            f"--{boundary}\r\nContent-Disposition: form-data; "
            f'name="{_quoted(name)}"; filename="{_quoted(file.filename or "upload")}"\r\n'
            f"Content-Type: {file.content_type or 'application/octet-stream'}\r\n\r\n"
        )
        parts.append(head.encode() + await file.read() + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return f"multipart/form-data; boundary={boundary}".encode(), b"".join(parts)
