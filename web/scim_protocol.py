"""The SCIM protocol around web.scim's endpoints: the directory's bearer token, request
bodies, searches and pages, and answers — `application/scim+json`, refusals as SCIM Error
bodies (RFC 7644 §3.12) with the status, a `scimType` where the RFC has one, and a detail."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from pydantic import ValidationError
from scim2_models import (
    Context,
    Error,
    ListResponse,
    ResponseParameters,
    SCIMException,
    SearchRequest,
)
from scim2_models.path import CompareOperator, Comparison
from starlette.requests import Request
from starlette.responses import Response

from outbox import scim
from outbox.deliveries import take_queued
from outbox.permissions import AdminError, Operator
from outbox.scim import ScimProblem
from web.auth import digest
from web.node import Node, node_of
from web.scim_resources import MAX_RESULTS

MEDIA_TYPE = "application/scim+json"
MAX_BODY = 1024 * 1024  # a group of 10,000 members fits several times
DEFAULT_COUNT = 100
LAST_START = 2**31

Handler = Callable[[Request], Awaitable[Response]]


class ScimResponse(Response):
    media_type = MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        return b"" if content is None else orjson.dumps(content)


def failure(status: int, detail: str, scim_type: str | None = None) -> Response:
    body = Error(status=status, scim_type=scim_type or None, detail=detail).model_dump()
    headers = {"WWW-Authenticate": 'Bearer realm="scim"'} if status == 401 else None
    return ScimResponse(body, status_code=status, headers=headers)


def _from_validation(exc: ValidationError) -> Response:
    error = Error.from_validation_errors(exc)[0]
    return failure(error.status or 400, error.detail or "invalid request", error.scim_type)


def endpoint(handler: Handler) -> Handler:
    """Authenticate the directory, and answer every refusal as a SCIM error."""

    @functools.wraps(handler)
    async def run(request: Request) -> Response:
        try:
            await _directory(request)
            return await handler(request)
        except ScimProblem as exc:
            return failure(exc.status, str(exc), exc.scim_type)
        except AdminError as exc:  # a rule of the node (the last admin stays): 400 in SCIM
            return failure(400 if exc.status == 422 else exc.status, str(exc))
        except SCIMException as exc:
            error = exc.to_error()
            return failure(error.status or 400, error.detail or str(exc), error.scim_type)
        except ValidationError as exc:
            return _from_validation(exc)

    return run


async def _directory(request: Request) -> None:
    """Put the label of the caller's directory token into the request (401 without one)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ScimProblem("a bearer token from `flurfunk scim token` is required", "", 401)
    async with node_of(request).db.read() as session:
        label = await scim.token_label(session, digest(token.strip()))
    if label is None:
        raise ScimProblem("the bearer token is not a SCIM token of this node", "", 401)
    request.state.scim_label = label


def operator(request: Request) -> Operator:
    return scim.operator(request.state.scim_label)


async def json_body(request: Request) -> dict[str, Any]:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise ScimProblem(f"the body is larger than {MAX_BODY} bytes", "", 413)
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_BODY:
            raise ScimProblem(f"the body is larger than {MAX_BODY} bytes", "", 413)
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise ScimProblem("the body is not JSON", "invalidSyntax") from None
    if not isinstance(parsed, dict):
        raise ScimProblem("the body is not a JSON object", "invalidSyntax")
    return parsed


def row_id(request: Request, kind: str) -> int:
    raw = str(request.path_params["id"])
    if not is_row_id(raw):
        raise scim.not_found(f"{kind} {raw[:40]}")
    return int(raw)


def is_row_id(raw: str) -> bool:
    """Digits of a 64-bit row id (larger numbers would fail in the database)."""
    return raw.isascii() and raw.isdigit() and len(raw) <= 19 and int(raw) < 2**63


def answer(resource: Any, ctx: Context, request: Request, status: int = 200) -> Response:
    params: ResponseParameters[Any] = ResponseParameters.model_validate(dict(request.query_params))
    body = resource.model_dump(scim_ctx=ctx, response_parameters=params)
    headers = {"Location": body["meta"]["location"]} if status == 201 else None
    return ScimResponse(body, status_code=status, headers=headers)


def equality(search: SearchRequest[Any], attribute: str) -> str | None:
    """The value of `filter=ATTRIBUTE eq "…"`; invalidFilter for any other filter."""
    if search.filter is None:
        return None
    ast = search.filter.ast
    if (
        isinstance(ast, Comparison)
        and ast.attr_path.attr.lower() == attribute.lower()
        and ast.attr_path.sub_attr is None
        and ast.op == CompareOperator.eq
        and isinstance(ast.value, str)
    ):
        return ast.value
    raise ScimProblem(f'only the filter {attribute} eq "…" is supported', "invalidFilter")


def search_in_query(request: Request, model: Any) -> SearchRequest[Any]:
    search: SearchRequest[Any] = SearchRequest[model].model_validate(
        dict(request.query_params), scim_ctx=Context.SEARCH_REQUEST
    )
    return search


async def search_in_body(request: Request, model: Any) -> SearchRequest[Any]:
    """A search sent as the body of POST …/.search (RFC 7644 §3.4.3)."""
    search: SearchRequest[Any] = SearchRequest[model].model_validate(
        await json_body(request), scim_ctx=Context.SEARCH_REQUEST
    )
    return search


def page(search: SearchRequest[Any]) -> tuple[int, int]:
    """startIndex (1-based) and count; a start past any directory's size pages past the end
    (an offset beyond what databases take would fail)."""
    start = min(search.start_index or 1, LAST_START)
    count = DEFAULT_COUNT if search.count is None else min(search.count, MAX_RESULTS)
    return start, count


def listing(
    resources: list[Any], total: int, start: int, search: SearchRequest[Any], model: Any
) -> Response:
    listed = ListResponse[model](
        total_results=total, start_index=start, items_per_page=len(resources), resources=resources
    )
    return ScimResponse(
        listed.model_dump(scim_ctx=Context.SEARCH_RESPONSE, response_parameters=search)
    )


def wake_deliveries(node: Node) -> None:
    """After a commit that may have queued deliveries: the worker sends them at once."""
    if node.federation is not None and take_queued():
        node.federation.wake_deliveries()
