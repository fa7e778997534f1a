"""`/api/v1/flurfunk/roles`: the node's roles and their permissions. Anyone signed in reads
them (the names are shown next to people); creating, changing and deleting a custom role
needs `manage_roles` — the same actions as `flurfunk role` and /admin/roles."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from outbox import roles
from outbox.permissions import PERMISSIONS, AdminError, Operator, Role
from web.api.base import Call, call, ok
from web.api.errors import ApiError, not_found, validation

HERE = "/api/v1/flurfunk/roles"


def present(role: Role) -> dict[str, Any]:
    return {
        "id": role.id,
        "name": role.name,
        "color": role.color,
        "permissions": [p for p in PERMISSIONS if p in role.permissions],
        "built_in": role.built_in,
    }


async def operator(c: Call) -> Operator:
    async with c.node.db.read() as session:
        return await roles.operator_for(session, c.account.username, c.user.role, c.account.id)


def refused(exc: AdminError) -> ApiError:
    if isinstance(exc, roles.UnknownRole) and exc.status == 404:
        return not_found()
    return ApiError(exc.status, str(exc))


def _permissions(c: Call) -> list[str] | None:
    if "permissions" not in c.params:
        return None
    raw = c.params.raw("permissions")
    if isinstance(raw, str):
        return raw.split(",")
    return c.params.strings("permissions")


async def listing(request: Request) -> Response:
    c = await call(request, "read")
    async with c.node.db.read() as session:
        return ok([present(r) for r in await roles.all_roles(session)])


async def create(request: Request) -> Response:
    c = await call(request, "admin:write")
    who = await operator(c)
    name = c.params.text("name", "", max_length=16) or ""
    color = c.params.text("color", "", max_length=7) or ""
    permissions = _permissions(c)
    if permissions is None:
        raise validation("permissions is missing")
    try:
        async with c.node.db.write() as session:
            role = await roles.create_role(session, who, name, ",".join(permissions), color)
    except AdminError as exc:
        raise refused(exc) from None
    return ok(present(role))


async def change(request: Request) -> Response:
    c = await call(request, "admin:write")
    who = await operator(c)
    color = c.params.text("color", None, max_length=7)
    try:
        async with c.node.db.write() as session:
            role = await roles.update_role(
                session,
                who,
                str(request.path_params["id"]),
                permissions=_permissions(c),
                color=color,
            )
    except AdminError as exc:
        raise refused(exc) from None
    return ok(present(role))


async def remove(request: Request) -> Response:
    c = await call(request, "admin:write")
    who = await operator(c)
    try:
        async with c.node.db.write() as session:
            role = await roles.delete_role(session, who, str(request.path_params["id"]))
    except AdminError as exc:
        raise refused(exc) from None
    return ok(present(role))


routes: list[BaseRoute] = [
    Route(HERE, listing, methods=["GET"]),
    Route(HERE, create, methods=["POST"]),
    Route(HERE + "/{id}", change, methods=["PATCH", "PUT"]),
    Route(HERE + "/{id}", remove, methods=["DELETE"]),
]
