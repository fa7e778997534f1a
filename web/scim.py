"""SCIM 2.0 provisioning (RFC 7643/7644) under /scim/v2: the company directory creates,
changes, deactivates and deletes local users, and keeps its groups (outbox.scim).

Every call needs a bearer token from `flurfunk scim token` (not an OAuth token). Answers are
`application/scim+json`; every refusal is a SCIM Error body with the status, a `scimType`
where RFC 7644 §3.12 has one, and a detail, and changes nothing. Filters: `userName eq "…"`
on Users and `displayName eq "…"` on Groups; any other filter is `invalidFilter`.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from pydantic import ValidationError
from scim2_models import (
    Context,
    Email,
    Error,
    Group,
    ListResponse,
    PatchOp,
    ResourceType,
    ResponseParameters,
    Schema,
    SCIMException,
    SearchRequest,
)
from scim2_models.path import CompareOperator, Comparison
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from federation.allowlist import Allowlist
from outbox import scim
from outbox.deliveries import take_queued
from outbox.media import remove_files
from outbox.permissions import AdminError, Operator
from outbox.scim import ScimProblem
from web.auth import digest
from web.node import Node, node_of
from web.scim_resources import (
    BASE,
    MAX_RESULTS,
    DirectoryUser,
    group_facts,
    group_resource,
    resource_types,
    schemas,
    service_provider_config,
    user_facts,
    user_resource,
)

MEDIA_TYPE = "application/scim+json"
MAX_BODY = 1024 * 1024  # a group of 10,000 members fits several times
DEFAULT_COUNT = 100

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


def _who(request: Request) -> Operator:
    return scim.operator(request.state.scim_label)


async def _body(request: Request) -> dict[str, Any]:
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


def _row_id(request: Request, kind: str) -> int:
    raw = str(request.path_params["id"])
    if not raw.isdigit() or len(raw) > 19:
        raise scim.not_found(f"{kind} {raw[:40]}")
    return int(raw)


def _answer(resource: Any, ctx: Context, request: Request, status: int = 200) -> Response:
    params: ResponseParameters[Any] = ResponseParameters.model_validate(dict(request.query_params))
    body = resource.model_dump(scim_ctx=ctx, response_parameters=params)
    headers = {"Location": body["meta"]["location"]} if status == 201 else None
    return ScimResponse(body, status_code=status, headers=headers)


def _equality(search: SearchRequest[Any], attribute: str) -> str | None:
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


def _search(request: Request, model: Any) -> SearchRequest[Any]:
    search: SearchRequest[Any] = SearchRequest[model].model_validate(
        dict(request.query_params), scim_ctx=Context.SEARCH_REQUEST
    )
    return search


async def _posted_search(request: Request, model: Any) -> SearchRequest[Any]:
    """A search sent as the body of POST …/.search (RFC 7644 §3.4.3)."""
    search: SearchRequest[Any] = SearchRequest[model].model_validate(
        await _body(request), scim_ctx=Context.SEARCH_REQUEST
    )
    return search


def _page(search: SearchRequest[Any]) -> tuple[int, int]:
    start = search.start_index or 1
    count = DEFAULT_COUNT if search.count is None else min(search.count, MAX_RESULTS)
    return start, count


def _listing(
    resources: list[Any], total: int, start: int, search: SearchRequest[Any], model: Any
) -> Response:
    answer = ListResponse[model](
        total_results=total, start_index=start, items_per_page=len(resources), resources=resources
    )
    return ScimResponse(
        answer.model_dump(scim_ctx=Context.SEARCH_RESPONSE, response_parameters=search)
    )


def _wake(node: Node) -> None:
    """After a commit that may have queued deliveries: the worker sends them at once."""
    if node.federation is not None and take_queued():
        node.federation.wake_deliveries()


# --- Users ---------------------------------------------------------------------------------


async def _users(request: Request, search: SearchRequest[Any]) -> Response:
    node = node_of(request)
    user_name = _equality(search, "userName")
    start, count = _page(search)
    async with node.db.read() as session:
        total, found = await scim.list_users(
            session, user_name=user_name, offset=start - 1, limit=count
        )
    resources = [user_resource(node.settings, f) for f in found]
    return _listing(resources, total, start, search, DirectoryUser)


@endpoint
async def users(request: Request) -> Response:
    return await _users(request, _search(request, DirectoryUser))


@endpoint
async def search_users(request: Request) -> Response:
    return await _users(request, await _posted_search(request, DirectoryUser))


@endpoint
async def create_user(request: Request) -> Response:
    node = node_of(request)
    resource = DirectoryUser.model_validate(
        await _body(request), scim_ctx=Context.RESOURCE_CREATION_REQUEST
    )
    async with node.db.write() as session:
        created = await scim.create_user(
            session, node.settings, _who(request), user_facts(resource)
        )
    return _answer(
        user_resource(node.settings, created), Context.RESOURCE_CREATION_RESPONSE, request, 201
    )


@endpoint
async def user(request: Request) -> Response:
    node = node_of(request)
    account_id = _row_id(request, "User")
    async with node.db.read() as session:
        found = await scim.find_user(session, account_id)
    return _answer(user_resource(node.settings, found), Context.RESOURCE_QUERY_RESPONSE, request)


async def _change_user(
    request: Request, node: Node, change: Callable[[DirectoryUser], None]
) -> Response:
    """Read the user, let `change` alter its resource, and store what it then says."""
    account_id = _row_id(request, "User")
    async with node.db.write() as session:
        current = user_resource(node.settings, await scim.find_user(session, account_id))
        was_active = bool(current.active)
        change(current)
        changed = await scim.update_user(
            session,
            _who(request),
            node.federation,
            account_id,
            user_facts(current, active_before=was_active),
        )
    _wake(node)  # a new display name goes out as an Update of the actor
    return _answer(user_resource(node.settings, changed), Context.RESOURCE_QUERY_RESPONSE, request)


@endpoint
async def replace_user(request: Request) -> Response:
    node = node_of(request)
    wanted = DirectoryUser.model_validate(
        await _body(request), scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST
    )

    def replace(current: DirectoryUser) -> None:
        wanted.replace(current)  # refuses a changed userName, keeps id and meta
        if wanted.active is None:
            wanted.active = current.active  # a replacement that forgets it changes nothing
        for name in ("user_name", "external_id", "display_name", "name", "emails", "active"):
            setattr(current, name, getattr(wanted, name))

    return await _change_user(request, node, replace)


@endpoint
async def patch_user(request: Request) -> Response:
    node = node_of(request)
    patch = PatchOp[DirectoryUser].model_validate(
        await _body(request), scim_ctx=Context.RESOURCE_PATCH_REQUEST
    )

    def apply(current: DirectoryUser) -> None:
        # Directories address the address as `emails[type eq "work"].value`, also to add the
        # first one: the patch sees it as the primary work address, there or empty.
        kept = current.emails[0].value if current.emails else None
        current.emails = [Email(value=kept, type=Email.Type.work, primary=True)]
        patch.patch(current)

    return await _change_user(request, node, apply)


@endpoint
async def delete_user(request: Request) -> Response:
    node = node_of(request)
    account_id = _row_id(request, "User")
    allowed = node.federation.allowlist() if node.federation else Allowlist()
    async with node.db.write() as session:
        deleted = await scim.delete_user(session, node.settings, allowed, _who(request), account_id)
    remove_files(node.settings, deleted.media)  # once committed: a rollback would need them
    _wake(node)
    return ScimResponse(None, status_code=204)


# --- Groups --------------------------------------------------------------------------------


async def _groups(request: Request, search: SearchRequest[Any]) -> Response:
    node = node_of(request)
    display_name = _equality(search, "displayName")
    start, count = _page(search)
    async with node.db.read() as session:
        total, found = await scim.list_groups(
            session, display_name=display_name, offset=start - 1, limit=count
        )
    resources = [group_resource(node.settings, g) for g in found]
    return _listing(resources, total, start, search, Group)


@endpoint
async def groups(request: Request) -> Response:
    return await _groups(request, _search(request, Group))


@endpoint
async def search_groups(request: Request) -> Response:
    return await _groups(request, await _posted_search(request, Group))


@endpoint
async def search_everything(request: Request) -> Response:
    raise ScimProblem("search Users or Groups: /.search across both is not supported", "", 501)


@endpoint
async def create_group(request: Request) -> Response:
    node = node_of(request)
    resource = Group.model_validate(
        await _body(request), scim_ctx=Context.RESOURCE_CREATION_REQUEST
    )
    async with node.db.write() as session:
        created = await scim.create_group(
            session, node.settings, _who(request), group_facts(resource)
        )
    return _answer(
        group_resource(node.settings, created), Context.RESOURCE_CREATION_RESPONSE, request, 201
    )


@endpoint
async def group(request: Request) -> Response:
    node = node_of(request)
    group_id = _row_id(request, "Group")
    async with node.db.read() as session:
        found = await scim.find_group(session, group_id)
    return _answer(group_resource(node.settings, found), Context.RESOURCE_QUERY_RESPONSE, request)


async def _change_group(request: Request, node: Node, change: Callable[[Group], Group]) -> Response:
    group_id = _row_id(request, "Group")
    async with node.db.write() as session:
        current = group_resource(node.settings, await scim.find_group(session, group_id))
        facts = group_facts(change(current))
        changed = await scim.update_group(session, node.settings, _who(request), group_id, facts)
    return _answer(group_resource(node.settings, changed), Context.RESOURCE_QUERY_RESPONSE, request)


@endpoint
async def replace_group(request: Request) -> Response:
    node = node_of(request)
    wanted = Group.model_validate(
        await _body(request), scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST
    )

    def replace(current: Group) -> Group:
        wanted.replace(current)
        return wanted

    return await _change_group(request, node, replace)


@endpoint
async def patch_group(request: Request) -> Response:
    node = node_of(request)
    patch = PatchOp[Group].model_validate(
        await _body(request), scim_ctx=Context.RESOURCE_PATCH_REQUEST
    )

    def apply(current: Group) -> Group:
        patch.patch(current)
        return current

    return await _change_group(request, node, apply)


@endpoint
async def delete_group(request: Request) -> Response:
    node = node_of(request)
    group_id = _row_id(request, "Group")
    async with node.db.write() as session:
        await scim.delete_group(session, node.settings, _who(request), group_id)
    return ScimResponse(None, status_code=204)


# --- discovery (RFC 7644 §4) -----------------------------------------------------------------


@endpoint
async def provider_config(request: Request) -> Response:
    config = service_provider_config(node_of(request).settings)
    return ScimResponse(config.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))


def _discovered(items: list[Any], model: Any, request: Request) -> Response:
    wanted = request.path_params.get("id")
    if wanted is None:
        answer = ListResponse[model](
            total_results=len(items), start_index=1, items_per_page=len(items), resources=items
        )
        return ScimResponse(answer.model_dump(scim_ctx=Context.SEARCH_RESPONSE))
    for item in items:
        if item.id == wanted:
            return ScimResponse(item.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))
    raise scim.not_found(str(wanted)[:80])


@endpoint
async def schema_list(request: Request) -> Response:
    return _discovered(list(schemas(node_of(request).settings)), Schema, request)


@endpoint
async def resource_type_list(request: Request) -> Response:
    return _discovered(list(resource_types(node_of(request).settings)), ResourceType, request)


@endpoint
async def unknown(request: Request) -> Response:
    raise scim.not_found(f"{request.method} {request.url.path[:80]}")


@endpoint
async def not_allowed(request: Request) -> Response:
    raise ScimProblem(f"{request.method} is not allowed here", "", 405)


ENDPOINTS: list[tuple[str, dict[str, Handler]]] = [
    ("/.search", {"POST": search_everything}),
    ("/Users/.search", {"POST": search_users}),
    ("/Groups/.search", {"POST": search_groups}),
    ("/Users", {"GET": users, "POST": create_user}),
    (
        "/Users/{id}",
        {"GET": user, "PUT": replace_user, "PATCH": patch_user, "DELETE": delete_user},
    ),
    ("/Groups", {"GET": groups, "POST": create_group}),
    (
        "/Groups/{id}",
        {"GET": group, "PUT": replace_group, "PATCH": patch_group, "DELETE": delete_group},
    ),
    ("/ServiceProviderConfig", {"GET": provider_config}),
    ("/Schemas", {"GET": schema_list}),
    ("/Schemas/{id:path}", {"GET": schema_list}),
    ("/ResourceTypes", {"GET": resource_type_list}),
    ("/ResourceTypes/{id}", {"GET": resource_type_list}),
]
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

routes: list[BaseRoute] = [
    *(
        Route(BASE + path, handler, methods=[method])
        for path, handlers in ENDPOINTS
        for method, handler in handlers.items()
    ),
    *(
        Route(BASE + path, not_allowed, methods=[m for m in METHODS if m not in handlers])
        for path, handlers in ENDPOINTS
    ),
    Route(f"{BASE}/{{rest:path}}", unknown, methods=list(METHODS)),
]
