"""`/admin/users`, `/admin/federation`, `/admin/node`: what admins and moderators do, in the
browser. The actions are outbox.user_admin's (and the allowlist's and the node description's),
the same the CLI runs, so the refusals and the audit log are the same too; the operator in the
log is the signed-in staff member's name.

Moderators see every page and may do what user_admin lets them (suspend, unsuspend and reset
the password of plain users); the allowlist and the node's description change by admins only.
A new or reset password is shown once, in the answer to the form that made it (never kept in
the session cookie, which is signed but readable).
"""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from federation.allowlist import Allowlist, PatternError
from models import admin as node_admin
from models import allowlist as stored_allowlist
from outbox import user_admin
from outbox.accounts import ROLES, AccountError, random_password
from outbox.allowlist import normalise
from outbox.user_admin import AdminError, Operator
from web import delivery_report
from web.auth import Caller, hash_password
from web.cli_admin import _remove_files as remove_files
from web.node import node_of
from web.ui.access import back, checked_form, flash, staff
from web.ui.i18n import Translate, translator
from web.ui.render import language, page

MIN_PASSWORD = 8
AUDIT_ENTRIES = 50
NODE_FIELD_LIMITS = {"name": 100, "description": 2000, "contact_email": 255}


def _operator(caller: Caller) -> Operator:
    assert caller.account is not None
    assert caller.user is not None
    return Operator(caller.account.username, caller.user.role, caller.account.id)


def _t(request: Request) -> Translate:
    return translator(language(request))


def _refused(request: Request, exc: Exception) -> None:
    flash(request, _t(request)("Not done: %(reason)s", reason=str(exc)))


def _role_names(t: Translate) -> dict[str, str]:
    return {"user": t("User"), "moderator": t("Moderator"), "admin": t("Admin")}


# --- users ---------------------------------------------------------------------------------


async def _users_page(request: Request, caller: Caller, **extra: Any) -> Response:
    search = request.query_params.get("q", "").strip()[:100]
    async with node_of(request).db.read() as session:
        users = await user_admin.list_users(session, search)
    assert caller.user is not None
    assert caller.account is not None
    return page(
        request,
        "admin_users.html",
        nav="admin",
        section="users",
        users=users,
        search=search,
        roles=ROLES,
        role_names=_role_names(_t(request)),
        is_admin=caller.user.role == "admin",
        my_id=caller.account.id,
        secret=extra.pop("secret", None),
        **extra,
    )


async def users(request: Request) -> Response:
    return await _users_page(request, await staff(request))


async def create_user(request: Request) -> Response:
    caller = await staff(request)
    form = await checked_form(request)
    t = _t(request)
    name = str(form.get("name") or "").strip()
    email = str(form.get("email") or "").strip() or None
    role = str(form.get("role") or "user")
    password = random_password()
    settings = node_of(request).settings
    try:
        async with node_of(request).db.write() as session:
            await user_admin.create_user(
                session,
                settings,
                _operator(caller),
                username=name,
                password_hash=hash_password(password),
                email=email,
                role=role if role in ROLES else "user",
            )
    except (AdminError, AccountError) as exc:
        _refused(request, exc)
        return back({}, "/admin/users")
    secret = {"name": name, "password": password, "text": t("%(name)s was created.", name=name)}
    return await _users_page(request, caller, secret=secret)


USER_ACTIONS = ("suspend", "unsuspend", "role", "delete")


async def act(request: Request) -> Response:
    """One of the per-user buttons: suspend, unsuspend, role, delete."""
    done = "/admin/users"
    action = str(request.path_params["action"])
    if action not in USER_ACTIONS:
        raise HTTPException(404)
    caller = await staff(request)
    form = await checked_form(request)
    name = str(request.path_params["name"])
    media: list[str] = []
    t = _t(request)
    node = node_of(request)
    operator = _operator(caller)
    try:
        async with node.db.write() as session:
            if action == "suspend":
                changed = await user_admin.suspend(session, operator, name)
                message = t("%(name)s is suspended; their sign-ins ended.", name=name)
            elif action == "unsuspend":
                changed = await user_admin.unsuspend(session, operator, name)
                message = t("%(name)s may sign in again.", name=name)
            elif action == "role":
                role = str(form.get("role") or "")
                changed = await user_admin.set_role(session, operator, name, role) != role
                named = _role_names(t).get(role, role)
                message = t("%(name)s is now: %(role)s.", name=name, role=named)
            else:
                allowed = node.federation.allowlist() if node.federation else Allowlist()
                deleted = await user_admin.delete_user(
                    session, node.settings, allowed, operator, name
                )
                media, changed = deleted.media, True
                message = t("%(name)s was deleted.", name=name)
    except AdminError as exc:
        _refused(request, exc)
        return back({}, done)
    remove_files(node.settings, media)  # once committed: a rollback would need them back
    flash(request, message if changed else t("Nothing changed."))
    return back({}, done)


async def reset_password(request: Request) -> Response:
    caller = await staff(request)
    await checked_form(request)
    name = str(request.path_params["name"])
    t = _t(request)
    password = random_password()
    try:
        async with node_of(request).db.write() as session:
            await user_admin.reset_password(
                session, _operator(caller), name, hash_password(password)
            )
    except AdminError as exc:
        _refused(request, exc)
        return back({}, "/admin/users")
    text = t("New password for %(name)s; their sign-ins ended.", name=name)
    return await _users_page(
        request, caller, secret={"name": name, "password": password, "text": text}
    )


# --- federation ----------------------------------------------------------------------------


async def federation(request: Request) -> Response:
    caller = await staff(request)
    assert caller.user is not None
    async with node_of(request).db.read() as session:
        patterns = await stored_allowlist.patterns(session)
        log = await node_admin.audit_log(session, AUDIT_ENTRIES)
        hosts = await delivery_report.per_host(session)
    return page(
        request,
        "admin_federation.html",
        nav="admin",
        section="federation",
        patterns=patterns,
        log=log,
        hosts=hosts,
        is_admin=caller.user.role == "admin",
    )


async def change_allowlist(request: Request) -> Response:
    caller = await staff(request, roles=("admin",))
    form = await checked_form(request)
    t = _t(request)
    node = node_of(request)
    adding = request.url.path.endswith("/add")
    try:
        pattern = normalise(str(form.get("pattern") or ""))
    except PatternError as exc:
        _refused(request, exc)
        return back({}, "/admin/federation")
    actor = _operator(caller).name
    async with node.db.write() as session:
        if adding:
            changed = await stored_allowlist.add(session, pattern, actor)
        else:
            changed = await stored_allowlist.remove(session, pattern, actor)
    if changed and node.federation is not None:
        await node.federation.allowlist.refresh()  # this process at once; others within seconds
    if adding:
        message = t("%(pattern)s added.", pattern=pattern)
    else:
        message = t("%(pattern)s removed.", pattern=pattern)
    flash(request, message if changed else t("Nothing changed."))
    return back({}, "/admin/federation")


# --- the node ------------------------------------------------------------------------------


async def node_page(request: Request) -> Response:
    caller = await staff(request)
    assert caller.user is not None
    async with node_of(request).db.read() as session:
        values = await node_admin.node_settings(session)
        rules = await node_admin.rules(session)
    return page(
        request,
        "admin_node.html",
        nav="admin",
        section="node",
        values=values,
        rules=rules,
        limits=NODE_FIELD_LIMITS,
        is_admin=caller.user.role == "admin",
    )


async def save_node(request: Request) -> Response:
    caller = await staff(request, roles=("admin",))
    form = await checked_form(request)
    t = _t(request)
    values = {
        key: str(form.get(key) or "").strip()[:limit] for key, limit in NODE_FIELD_LIMITS.items()
    }
    if values["contact_email"] and "@" not in values["contact_email"]:
        flash(request, t("Not saved: that is not an e-mail address."))
        return back({}, "/admin/node")
    operator = _operator(caller)
    async with node_of(request).db.write() as session:
        before = await node_admin.node_settings(session)
        for key, value in values.items():
            if before.get(key, "") != value:
                await node_admin.set_node_setting(session, key, value)
                node_admin.record(
                    session,
                    operator.name,
                    "node.set",
                    key,
                    value,
                    operator_account_id=operator.account_id,
                )
    flash(request, t("Saved."))
    return back({}, "/admin/node")


async def add_rule(request: Request) -> Response:
    caller = await staff(request, roles=("admin",))
    form = await checked_form(request)
    t = _t(request)
    text = str(form.get("text") or "").strip()[:1000]
    hint = str(form.get("hint") or "").strip()[:1000]
    if not text:
        flash(request, t("A rule needs some text."))
        return back({}, "/admin/node")
    operator = _operator(caller)
    async with node_of(request).db.write() as session:
        rule = await node_admin.add_rule(session, text, hint)
        node_admin.record(
            session,
            operator.name,
            "node.rule_add",
            str(rule.id),
            text,
            operator_account_id=operator.account_id,
        )
    flash(request, t("Rule added."))
    return back({}, "/admin/node")


async def remove_rule(request: Request) -> Response:
    caller = await staff(request, roles=("admin",))
    await checked_form(request)
    t = _t(request)
    rule_id = str(request.path_params["rule_id"])
    removed = None
    if rule_id.isdigit() and len(rule_id) <= 19:
        operator = _operator(caller)
        async with node_of(request).db.write() as session:
            removed = await node_admin.remove_rule(session, int(rule_id))
            if removed is not None:
                node_admin.record(
                    session,
                    operator.name,
                    "node.rule_remove",
                    rule_id,
                    removed.text,
                    operator_account_id=operator.account_id,
                )
    flash(request, t("Rule removed.") if removed is not None else t("Nothing changed."))
    return back({}, "/admin/node")


routes: list[BaseRoute] = [
    Route("/admin/users", users, methods=["GET"]),
    Route("/admin/users", create_user, methods=["POST"]),
    Route("/admin/users/{name}/reset_password", reset_password, methods=["POST"]),
    Route("/admin/users/{name}/{action}", act, methods=["POST"]),
    Route("/admin/federation", federation, methods=["GET"]),
    Route("/admin/federation/allowlist/add", change_allowlist, methods=["POST"]),
    Route("/admin/federation/allowlist/remove", change_allowlist, methods=["POST"]),
    Route("/admin/node", node_page, methods=["GET"]),
    Route("/admin/node", save_node, methods=["POST"]),
    Route("/admin/node/rules", add_rule, methods=["POST"]),
    Route("/admin/node/rules/{rule_id}/remove", remove_rule, methods=["POST"]),
]
