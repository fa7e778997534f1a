"""`/admin/users` and `/admin/node` (`/admin/federation` is in web.ui.admin_federation):
what admins and moderators do, in the browser. The actions are outbox.user_admin's (and
outbox.invites' and the node description's), the same the CLI runs, so the refusals and the
audit log are the same too; the operator in the log is the signed-in staff member's name.

Every page and form asks for a permission (outbox.permissions): `/admin/users` for
`administer_users` — moderators suspend, unsuspend and reset the password of plain users;
creating users and changing roles also needs `manage_roles` — and the node's description
`manage_node`. A new or reset password, or an invite link, is shown once, in the answer to the form
that made it (never kept in the session cookie, which is signed but readable).
"""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from federation.allowlist import Allowlist
from models import admin as node_admin
from models import policy as usage_policy
from outbox import invites, moderation, roles, user_admin
from outbox.accounts import AccountError, random_password
from outbox.media import remove_files
from outbox.permissions import outranks
from outbox.user_admin import AdminError
from web.auth import Caller, hash_password
from web.node import node_of
from web.ui.access import back, checked_form, flash, operator_of, staff
from web.ui.i18n import Translate, translator
from web.ui.render import language, page

NODE_FIELD_LIMITS = {"name": 100, "description": 2000, "contact_email": 255}


def audit(
    session: AsyncSession, request: Request, action: str, target: str, detail: str = ""
) -> None:
    """An entry in the admin audit log, in the transaction of the change it records."""
    operator = operator_of(request)
    node_admin.record(
        session, operator.name, action, target, detail, operator_account_id=operator.account_id
    )


def translate(request: Request) -> Translate:
    return translator(language(request))


def refused(request: Request, exc: Exception) -> None:
    flash(request, translate(request)("Not done: %(reason)s", reason=str(exc)))


def role_names(t: Translate) -> dict[str, str]:
    """The built-in roles' names in the page's language (custom roles keep their own)."""
    return {
        "user": t("User"),
        "moderator": t("Moderator"),
        "admin": t("Admin"),
        "owner": t("Owner"),
    }


# --- users ---------------------------------------------------------------------------------


async def _users_page(
    request: Request, caller: Caller, secret: dict[str, str] | None = None
) -> Response:
    """The user list; `secret` is a new password or invite link to show this once."""
    search = request.query_params.get("q", "").strip()[:100]
    operator = operator_of(request)
    async with node_of(request).db.read() as session:
        users = await user_admin.list_users(session, search)
        known = {role.name: role for role in await roles.all_roles(session)}
    assert caller.account is not None
    held = {u.id: known[u.role].permissions if u.role in known else frozenset() for u in users}
    return page(
        request,
        "admin_users.html",
        nav="admin",
        section="users",
        users=users,
        search=search,
        roles=[role.name for role in known.values()],
        role_names=role_names(translate(request)),
        is_admin=operator.may("administer_users") and operator.may("manage_roles"),
        may_act={uid for uid, perms in held.items() if outranks(operator, perms)},
        my_id=caller.account.id,
        secret=secret,
    )


async def users(request: Request) -> Response:
    return await _users_page(request, await staff(request, "administer_users"))


async def create_user(request: Request) -> Response:
    """A new colleague with a one-time password, or with an invite link where they choose
    their own; either is shown once, on the page this answers with."""
    caller = await staff(request, "administer_users")
    form = await checked_form(request)
    t = translate(request)
    name = str(form.get("name") or "").strip()
    email = str(form.get("email") or "").strip() or None
    role = str(form.get("role") or "user")[:16]
    inviting = form.get("first_sign_in") == "invite"
    node = node_of(request)
    password = random_password()
    password_hash = "" if inviting else hash_password(password)  # hashing takes a while
    try:
        async with node.db.write() as session:
            operator = operator_of(request)
            if inviting:
                issued = await invites.invite_user(
                    session, node.settings, operator, username=name, email=email, role=role
                )
            else:
                await user_admin.create_user(
                    session,
                    node.settings,
                    operator,
                    username=name,
                    password_hash=password_hash,
                    email=email,
                    role=role,
                )
    except (AdminError, AccountError) as exc:
        refused(request, exc)
        return back({}, "/admin/users")
    if inviting:
        text = t(
            "%(name)s was created. Send them this invite link; it works once, until %(time)s:",
            name=name,
            time=issued.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
        )
        secret = {"name": name, "link": issued.link(node.settings), "text": text}
    else:
        text = t("%(name)s was created.", name=name)
        secret = {"name": name, "password": password, "text": text}
    return await _users_page(request, caller, secret=secret)


USER_ACTIONS = ("suspend", "unsuspend", "role", "delete")


async def act(request: Request) -> Response:
    """One of the per-user buttons: suspend, unsuspend, role, delete."""
    done = "/admin/users"
    action = str(request.path_params["action"])
    if action not in USER_ACTIONS:
        raise HTTPException(404)
    await staff(request, "administer_users")
    form = await checked_form(request)
    name = str(request.path_params["name"])
    media: list[str] = []
    t = translate(request)
    node = node_of(request)
    operator = operator_of(request)
    try:
        async with node.db.write() as session:
            if action == "suspend":
                account, _ = await user_admin.find(session, name)
                changed = account.suspended_at is None
                if changed:
                    reason = str(form.get("reason") or "")[: moderation.TEXT_MAX]
                    await moderation.act_on_account(session, operator, account, "suspend", reason)
                message = t("%(name)s is suspended and was told why.", name=name)
            elif action == "unsuspend":
                changed = await user_admin.unsuspend(session, operator, name)
                message = t("%(name)s may sign in again.", name=name)
            elif action == "role":
                role = str(form.get("role") or "")
                changed = await user_admin.set_role(session, operator, name, role) != role
                named = role_names(t).get(role, role)
                message = t("%(name)s is now: %(role)s.", name=name, role=named)
            else:
                allowed = node.federation.allowlist() if node.federation else Allowlist()
                deleted = await user_admin.delete_user(
                    session, node.settings, allowed, operator, name
                )
                media, changed = deleted.media, True
                message = t("%(name)s was deleted.", name=name)
    except AdminError as exc:
        refused(request, exc)
        return back({}, done)
    # Once committed: a rollback would need them back
    await asyncio.to_thread(remove_files, node.settings, media)
    flash(request, message if changed else t("Nothing changed."))
    return back({}, done)


async def reset_password(request: Request) -> Response:
    caller = await staff(request, "administer_users")
    await checked_form(request)
    name = str(request.path_params["name"])
    t = translate(request)
    password = random_password()
    try:
        async with node_of(request).db.write() as session:
            await user_admin.reset_password(
                session, operator_of(request), name, hash_password(password)
            )
    except AdminError as exc:
        refused(request, exc)
        return back({}, "/admin/users")
    text = t("New password for %(name)s; their sign-ins ended.", name=name)
    return await _users_page(
        request, caller, secret={"name": name, "password": password, "text": text}
    )


# --- the node ------------------------------------------------------------------------------


async def node_page(request: Request) -> Response:
    await staff(request)
    async with node_of(request).db.read() as session:
        values = await node_admin.node_settings(session)
        rules = await node_admin.rules(session)
        has_policy = await usage_policy.current(session) is not None
    return page(
        request,
        "admin_node.html",
        has_policy=has_policy,
        nav="admin",
        section="node",
        values=values,
        rules=rules,
        limits=NODE_FIELD_LIMITS,
        is_admin=operator_of(request).may("manage_node"),
    )


async def save_node(request: Request) -> Response:
    await staff(request, "manage_node")
    form = await checked_form(request)
    t = translate(request)
    values = {
        key: str(form.get(key) or "").strip()[:limit] for key, limit in NODE_FIELD_LIMITS.items()
    }
    if values["contact_email"] and "@" not in values["contact_email"]:
        flash(request, t("Not saved: that is not an e-mail address."))
        return back({}, "/admin/node")
    async with node_of(request).db.write() as session:
        before = await node_admin.node_settings(session)
        for key, value in values.items():
            if before.get(key, "") != value:
                await node_admin.set_node_setting(session, key, value)
                audit(session, request, "node.set", key, value)
    flash(request, t("Saved."))
    return back({}, "/admin/node")


async def add_rule(request: Request) -> Response:
    await staff(request, "manage_node")
    form = await checked_form(request)
    t = translate(request)
    text = str(form.get("text") or "").strip()[:1000]
    hint = str(form.get("hint") or "").strip()[:1000]
    if not text:
        flash(request, t("A rule needs some text."))
        return back({}, "/admin/node")
    async with node_of(request).db.write() as session:
        rule = await node_admin.add_rule(session, text, hint)
        audit(session, request, "node.rule_add", str(rule.id), text)
    flash(request, t("Rule added."))
    return back({}, "/admin/node")


async def remove_rule(request: Request) -> Response:
    await staff(request, "manage_node")
    await checked_form(request)
    t = translate(request)
    rule_id = str(request.path_params["rule_id"])
    removed = None
    if rule_id.isdigit() and len(rule_id) <= 19:
        async with node_of(request).db.write() as session:
            removed = await node_admin.remove_rule(session, int(rule_id))
            if removed is not None:
                audit(session, request, "node.rule_remove", rule_id, removed.text)
    flash(request, t("Rule removed.") if removed is not None else t("Nothing changed."))
    return back({}, "/admin/node")


routes: list[BaseRoute] = [
    Route("/admin/users", users, methods=["GET"]),
    Route("/admin/users", create_user, methods=["POST"]),
    Route("/admin/users/{name}/reset_password", reset_password, methods=["POST"]),
    Route("/admin/users/{name}/{action}", act, methods=["POST"]),
    Route("/admin/node", node_page, methods=["GET"]),
    Route("/admin/node", save_node, methods=["POST"]),
    Route("/admin/node/rules", add_rule, methods=["POST"]),
    Route("/admin/node/rules/{rule_id}/remove", remove_rule, methods=["POST"]),
]
