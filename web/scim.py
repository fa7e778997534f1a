"""SCIM 2.0 provisioning (RFC 7643/7644) under /scim/v2: the company directory creates,
changes, deactivates and deletes local users, and keeps its groups (outbox.scim).

Every call needs a bearer token from `flurfunk scim token` (not an OAuth token). Answers are
`application/scim+json`; every refusal is a SCIM Error body with the status, a `scimType`
where RFC 7644 §3.12 has one, and a detail, and changes nothing. Filters: `userName eq "…"`
on Users and `displayName eq "…"` on Groups; any other filter is `invalidFilter`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from scim2_models import (
    Context,
    Email,
    Group,
    ListResponse,
    PatchOp,
    ResourceType,
    Schema,
    SearchRequest,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from federation.allowlist import Allowlist
from outbox import scim, scim_groups
from outbox.media import remove_files
from outbox.scim import ScimProblem
from web.node import Node, node_of
from web.scim_protocol import (
    Handler,
    ScimResponse,
    answer,
    endpoint,
    equality,
    json_body,
    listing,
    operator,
    page,
    row_id,
    search_in_body,
    search_in_query,
    wake_deliveries,
)
from web.scim_resources import (
    BASE,
    DirectoryUser,
    group_facts,
    group_resource,
    resource_types,
    schemas,
    service_provider_config,
    user_facts,
    user_resource,
)

# --- Users ---------------------------------------------------------------------------------


async def _users(request: Request, search: SearchRequest[Any]) -> Response:
    node = node_of(request)
    user_name = equality(search, "userName")
    start, count = page(search)
    async with node.db.read() as session:
        total, found = await scim.list_users(
            session, user_name=user_name, offset=start - 1, limit=count
        )
    resources = [user_resource(node.settings, f) for f in found]
    return listing(resources, total, start, search, DirectoryUser)


@endpoint
async def users(request: Request) -> Response:
    return await _users(request, search_in_query(request, DirectoryUser))


@endpoint
async def search_users(request: Request) -> Response:
    return await _users(request, await search_in_body(request, DirectoryUser))


@endpoint
async def create_user(request: Request) -> Response:
    node = node_of(request)
    resource = DirectoryUser.model_validate(
        await json_body(request), scim_ctx=Context.RESOURCE_CREATION_REQUEST
    )
    async with node.db.write() as session:
        created = await scim.create_user(
            session, node.settings, operator(request), user_facts(resource)
        )
    return answer(
        user_resource(node.settings, created), Context.RESOURCE_CREATION_RESPONSE, request, 201
    )


@endpoint
async def user(request: Request) -> Response:
    node = node_of(request)
    account_id = row_id(request, "User")
    async with node.db.read() as session:
        found = await scim.find_user(session, account_id)
    return answer(user_resource(node.settings, found), Context.RESOURCE_QUERY_RESPONSE, request)


async def _change_user(
    request: Request, node: Node, change: Callable[[DirectoryUser], None]
) -> Response:
    """Read the user, let `change` alter its resource, and store what it then says."""
    account_id = row_id(request, "User")
    async with node.db.write() as session:
        current = user_resource(node.settings, await scim.find_user(session, account_id))
        was_active = bool(current.active)
        change(current)
        changed = await scim.update_user(
            session,
            operator(request),
            node.federation,
            account_id,
            user_facts(current, active_before=was_active),
        )
    wake_deliveries(node)  # a new display name goes out as an Update of the actor
    return answer(user_resource(node.settings, changed), Context.RESOURCE_QUERY_RESPONSE, request)


@endpoint
async def replace_user(request: Request) -> Response:
    node = node_of(request)
    wanted = DirectoryUser.model_validate(
        await json_body(request), scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST
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
        await json_body(request), scim_ctx=Context.RESOURCE_PATCH_REQUEST
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
    account_id = row_id(request, "User")
    allowed = node.federation.allowlist() if node.federation else Allowlist()
    async with node.db.write() as session:
        deleted = await scim.delete_user(
            session, node.settings, allowed, operator(request), account_id
        )
    # Once committed: a rollback would need them
    await asyncio.to_thread(remove_files, node.settings, deleted.media)
    wake_deliveries(node)
    return ScimResponse(None, status_code=204)


# --- Groups --------------------------------------------------------------------------------


async def _groups(request: Request, search: SearchRequest[Any]) -> Response:
    node = node_of(request)
    display_name = equality(search, "displayName")
    start, count = page(search)
    async with node.db.read() as session:
        total, found = await scim_groups.list_groups(
            session, display_name=display_name, offset=start - 1, limit=count
        )
    resources = [group_resource(node.settings, g) for g in found]
    return listing(resources, total, start, search, Group)


@endpoint
async def groups(request: Request) -> Response:
    return await _groups(request, search_in_query(request, Group))


@endpoint
async def search_groups(request: Request) -> Response:
    return await _groups(request, await search_in_body(request, Group))


@endpoint
async def search_everything(request: Request) -> Response:
    raise ScimProblem("search Users or Groups: /.search across both is not supported", "", 501)


@endpoint
async def create_group(request: Request) -> Response:
    node = node_of(request)
    resource = Group.model_validate(
        await json_body(request), scim_ctx=Context.RESOURCE_CREATION_REQUEST
    )
    async with node.db.write() as session:
        created = await scim_groups.create_group(
            session, node.settings, operator(request), group_facts(resource)
        )
    return answer(
        group_resource(node.settings, created), Context.RESOURCE_CREATION_RESPONSE, request, 201
    )


@endpoint
async def group(request: Request) -> Response:
    node = node_of(request)
    group_id = row_id(request, "Group")
    async with node.db.read() as session:
        found = await scim_groups.find_group(session, group_id)
    return answer(group_resource(node.settings, found), Context.RESOURCE_QUERY_RESPONSE, request)


async def _change_group(request: Request, node: Node, change: Callable[[Group], Group]) -> Response:
    group_id = row_id(request, "Group")
    async with node.db.write() as session:
        current = group_resource(node.settings, await scim_groups.find_group(session, group_id))
        facts = group_facts(change(current))
        changed = await scim_groups.update_group(
            session, node.settings, operator(request), group_id, facts
        )
    return answer(group_resource(node.settings, changed), Context.RESOURCE_QUERY_RESPONSE, request)


@endpoint
async def replace_group(request: Request) -> Response:
    node = node_of(request)
    wanted = Group.model_validate(
        await json_body(request), scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST
    )

    def replace(current: Group) -> Group:
        wanted.replace(current)
        return wanted

    return await _change_group(request, node, replace)


@endpoint
async def patch_group(request: Request) -> Response:
    node = node_of(request)
    patch = PatchOp[Group].model_validate(
        await json_body(request), scim_ctx=Context.RESOURCE_PATCH_REQUEST
    )

    def apply(current: Group) -> Group:
        patch.patch(current)
        return current

    return await _change_group(request, node, apply)


@endpoint
async def delete_group(request: Request) -> Response:
    node = node_of(request)
    group_id = row_id(request, "Group")
    async with node.db.write() as session:
        await scim_groups.delete_group(session, node.settings, operator(request), group_id)
    return ScimResponse(None, status_code=204)


# --- discovery (RFC 7644 §4) -----------------------------------------------------------------


@endpoint
async def provider_config(request: Request) -> Response:
    config = service_provider_config(node_of(request).settings)
    return ScimResponse(config.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))


def _discovered(items: list[Any], model: Any, request: Request) -> Response:
    wanted = request.path_params.get("id")
    if wanted is None:
        listed = ListResponse[model](
            total_results=len(items), start_index=1, items_per_page=len(items), resources=items
        )
        return ScimResponse(listed.model_dump(scim_ctx=Context.SEARCH_RESPONSE))
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
