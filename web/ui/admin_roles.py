"""`/admin/roles`: the node's roles and what each permits; those with `manage_roles` create
custom roles (name, colour, permission checkboxes) and delete those nobody holds. The same
actions as `flurfunk role` and /api/v1/flurfunk/roles, with the same audit entries.

`/admin` sends staff to the first admin page their permissions open."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from outbox import roles
from outbox.permissions import PERMISSIONS, AdminError
from web.node import node_of
from web.ui.access import back, checked_form, flash, operator_of, staff
from web.ui.admin import refused, role_names, translate
from web.ui.i18n import Translate
from web.ui.render import page

HERE = "/admin/roles"


def permission_names(t: Translate) -> dict[str, str]:
    return {
        "administer_users": t("Administer users"),
        "manage_allowlist": t("Manage the allowlist"),
        "manage_reports": t("Manage reports"),
        "manage_roles": t("Manage roles"),
        "manage_policy": t("Manage the usage policy"),
        "announce": t("Make announcements"),
        "view_audit_log": t("View the audit log"),
        "manage_compliance": t("Manage compliance"),
        "export_data": t("Export data"),
        "manage_node": t("Manage the node (description, rules, emoji, deliveries)"),
    }


async def admin_home(request: Request) -> Response:
    await staff(request)
    operator = operator_of(request)
    if operator.may("administer_users"):
        return RedirectResponse("/admin/users", status_code=303)
    return RedirectResponse("/admin/federation", status_code=303)


async def roles_page(request: Request) -> Response:
    await staff(request)
    t = translate(request)
    async with node_of(request).db.read() as session:
        found = await roles.all_roles(session)
    return page(
        request,
        "admin_roles.html",
        nav="admin",
        section="roles",
        roles=found,
        permissions=PERMISSIONS,
        permission_names=permission_names(t),
        role_names=role_names(t),
        may_manage=operator_of(request).may("manage_roles"),
    )


async def create(request: Request) -> Response:
    await staff(request, "manage_roles")
    form = await checked_form(request)
    t = translate(request)
    name = str(form.get("name") or "").strip()[:32]
    color = str(form.get("color") or "").strip()[:7]
    if color == "#000000":  # what an untouched colour field sends: no colour chosen
        color = ""
    granted = [str(p) for p in form.getlist("permissions") if str(p) in PERMISSIONS]
    try:
        async with node_of(request).db.write() as session:
            await roles.create_role(session, operator_of(request), name, ",".join(granted), color)
    except AdminError as exc:
        refused(request, exc)
        return back({}, HERE)
    flash(request, t("The role %(name)s was created.", name=name))
    return back({}, HERE)


async def remove(request: Request) -> Response:
    await staff(request, "manage_roles")
    await checked_form(request)
    t = translate(request)
    name = str(request.path_params["name"])
    try:
        async with node_of(request).db.write() as session:
            role_id = await roles.custom_by_name(session, name)
            await roles.delete_role(session, operator_of(request), role_id)
    except AdminError as exc:
        refused(request, exc)
        return back({}, HERE)
    flash(request, t("The role %(name)s was deleted.", name=name))
    return back({}, HERE)


routes: list[BaseRoute] = [
    Route("/admin", admin_home, methods=["GET"]),
    Route(HERE, roles_page, methods=["GET"]),
    Route(HERE, create, methods=["POST"]),
    Route(HERE + "/{name}/delete", remove, methods=["POST"]),
]
