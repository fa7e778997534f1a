"""Mastodon's admin API for accounts, where apps use it: `GET /api/v1/admin/accounts` (v1
filters), `GET /api/v2/admin/accounts` (v2 filters), `GET /api/v1/admin/accounts/:id`, the
actions `approve`, `reject`, `action`, `unsuspend` and `DELETE`. Scopes `admin:read:accounts`
/ `admin:write:accounts`, permission `administer_users`.

The actions are outbox.user_admin's, the same as `flurfunk user …` and /admin/users, so the
checks (rank, last admin) and the audit entries are the same. What this node has no state for
is refused with a reason rather than pretended: there is no sign-up approval queue (approve
and reject answer 403 as Mastodon does for an account that is not pending). `action` is
outbox.moderation's: it leaves a warning the person is notified of and may appeal.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from federation.allowlist import Allowlist
from models.account import Account, User
from outbox import moderation, roles, user_admin
from outbox.media import remove_files
from outbox.permissions import AdminError, Operator, Role, require
from web.api import serializers
from web.api.base import Call, call, ok, page_of, paginated
from web.api.errors import ApiError, forbidden, not_found, validation
from web.api.federating import wake_deliveries
from web.api.params import parse_id
from web.api.roles import operator, refused

V1 = "/api/v1/admin/accounts"
V2 = "/api/v2/admin/accounts"
READ, WRITE = "admin:read:accounts", "admin:write:accounts"
PAGE, PAGE_MAX = 100, 200  # as Mastodon


async def _administrator(c: Call) -> Operator:
    who = await operator(c)
    try:
        require(who, "administer_users")
    except AdminError as exc:
        raise refused(exc) from None
    return who


def entity(c: Call, account: Account, user: User | None, role: Role | None) -> dict[str, Any]:
    """Mastodon's Admin::Account; a remote account has no user (no e-mail, no role)."""
    return {
        "id": str(account.id),
        "username": account.username,
        "domain": account.domain,
        "created_at": serializers.iso(account.created_at),
        "email": user.email if user else None,
        "ip": None,  # this node keeps no sign-in addresses
        "ips": [],
        "locale": user.locale if user else None,
        "invite_request": None,
        "role": serializers.role(role),
        "confirmed": user is not None,
        "approved": user is not None,
        "disabled": bool(user and user.disabled),
        "silenced": account.silenced_at is not None,
        "suspended": account.suspended_at is not None,
        "sensitized": account.sensitized_at is not None,
        "account": serializers.account(account, c.node.links()),
    }


async def _present(
    c: Call, session: AsyncSession, rows: list[tuple[Account, User | None]]
) -> list[dict[str, Any]]:
    by_name = {r.name: r for r in await roles.all_roles(session)}
    return [entity(c, a, u, by_name.get(u.role) if u else None) for a, u in rows]


async def _staff_roles(session: AsyncSession) -> list[str]:
    return [r.name for r in await roles.all_roles(session) if r.permissions]


def _like(column: Any, text: str) -> Any:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return func.lower(column).like(f"{escaped}%", escape="\\")


async def _filtered(c: Call, session: AsyncSession, v2: bool) -> Select[Account, User]:
    p = c.params
    query = select(Account, User).outerjoin(User, User.account_id == Account.id)
    origin = p.text("origin", max_length=16) if v2 else None
    if origin not in (None, "", "local", "remote"):
        raise validation("origin must be local or remote")
    if origin == "local" or (not v2 and p.flag("local")):
        query = query.where(Account.domain.is_(None))
    if origin == "remote" or (not v2 and p.flag("remote")):
        query = query.where(Account.domain.is_not(None))
    status = p.text("status", max_length=16) if v2 else None
    if status not in (None, "", "active", "pending", "disabled", "silenced", "suspended"):
        raise validation("status must be active, pending, disabled, silenced or suspended")
    flags = {s for s in ("active", "pending", "disabled", "silenced", "suspended") if p.flag(s)}
    if not v2 and flags:
        status = sorted(flags)[0]
    if status == "active":
        query = query.where(Account.suspended_at.is_(None))
    elif status == "suspended":
        query = query.where(Account.suspended_at.is_not(None))
    elif status == "disabled":
        query = query.where(User.disabled.is_(True))
    elif status == "silenced":
        query = query.where(Account.silenced_at.is_not(None))
    elif status == "pending":  # a state this node never has
        query = query.where(Account.id.is_(None))
    staff = (p.text("permissions", max_length=16) == "staff") if v2 else p.flag("staff")
    if staff:
        query = query.where(User.role.in_(await _staff_roles(session)))
    if v2 and "role_ids" in p:
        wanted = set(p.strings("role_ids"))
        names = [r.name for r in await roles.all_roles(session) if r.id in wanted]
        query = query.where(User.role.in_(names))
    for name, column in (
        ("username", Account.username),
        ("display_name", Account.display_name),
        ("email", User.email),
    ):
        text = p.text(name, max_length=320)
        if text:
            query = query.where(_like(column, text))
    domain = (p.text("by_domain", max_length=255) or "").strip().lower()
    if domain:
        query = query.where(func.lower(Account.domain) == domain)
    return query


async def _listing(request: Request, v2: bool) -> Response:
    c = await call(request, READ)
    await _administrator(c)
    page = page_of(c.params, PAGE, PAGE_MAX)
    async with c.node.db.read() as session:
        query = page.apply(await _filtered(c, session, v2), Account.id)
        rows = page.settle([(a, u) for a, u in (await session.execute(query)).all()])
        items = await _present(c, session, rows)
    return paginated(c, items, [a.id for a, _ in rows])


async def list_v1(request: Request) -> Response:
    return await _listing(request, v2=False)


async def list_v2(request: Request) -> Response:
    return await _listing(request, v2=True)


async def _row(session: AsyncSession, raw_id: Any) -> tuple[Account, User | None]:
    found = (
        await session.execute(
            select(Account, User)
            .outerjoin(User, User.account_id == Account.id)
            .where(Account.id == parse_id(raw_id))
        )
    ).first()
    if found is None:
        raise not_found()
    return found[0], found[1]


async def _answer(c: Call, account_id: int) -> Response:
    async with c.node.db.read() as session:
        account, user = await _row(session, account_id)
        return ok((await _present(c, session, [(account, user)]))[0])


async def show(request: Request) -> Response:
    c = await call(request, READ)
    await _administrator(c)
    return await _answer(c, parse_id(request.path_params["id"]))


async def _local(c: Call, session: AsyncSession) -> tuple[Account, User]:
    account, user = await _row(session, c.request.path_params["id"])
    if user is None and account.domain is None:
        raise validation("this account was deleted")
    if user is None:
        raise validation("only this node's own accounts can be administered here")
    return account, user


async def approve_or_reject(request: Request) -> Response:
    """No sign-up waits for approval here (accounts come from the CLI, invites or sign-on)."""
    c = await call(request, WRITE)
    await _administrator(c)
    async with c.node.db.read() as session:
        await _row(session, request.path_params["id"])
    raise forbidden("This account is not pending approval: this node has no approval queue")


async def action(request: Request) -> Response:
    """Mastodon's moderation action: `type` (none|warn|disable|sensitive|silence|suspend),
    `text` (the reason the person reads), `report_id` (the report it settles);
    `send_email_notification` is ignored (the person gets a notification)."""
    c = await call(request, WRITE)
    who = await _administrator(c)
    kind = c.params.text("type", max_length=16) or ""
    if kind not in moderation.ACCOUNT_ACTIONS:
        raise validation(f"type must be one of {', '.join(moderation.ACCOUNT_ACTIONS)}")
    text = c.params.text("text", "", max_length=moderation.TEXT_MAX) or ""
    report_id = c.params.id("report_id")
    try:
        async with c.node.db.write() as session:
            account, _ = await _local(c, session)
            await moderation.act_on_account(session, who, account, kind, text, report_id=report_id)
    except AdminError as exc:
        raise refused(exc) from None
    return ok({})


async def unsuspend(request: Request) -> Response:
    c = await call(request, WRITE)
    who = await _administrator(c)
    try:
        async with c.node.db.write() as session:
            account, _ = await _local(c, session)
            await user_admin.unsuspend(session, who, account.username)
    except AdminError as exc:
        raise refused(exc) from None
    return await _answer(c, account.id)


async def delete(request: Request) -> Response:
    """As Mastodon, only a suspended account is deleted; the Delete federates."""
    c = await call(request, WRITE)
    who = await _administrator(c)
    node = c.node
    allowed = node.federation.allowlist() if node.federation else Allowlist()
    try:
        async with node.db.write() as session:
            account, user = await _local(c, session)
            if account.suspended_at is None:
                raise ApiError(403, "Only a suspended account can be deleted: suspend it first")
            answer = (await _present(c, session, [(account, user)]))[0]
            deleted = await user_admin.delete_user(
                session, node.settings, allowed, who, account.username
            )
    except AdminError as exc:
        raise refused(exc) from None
    # Once committed: a rollback would need them
    await asyncio.to_thread(remove_files, node.settings, deleted.media)
    wake_deliveries(c)
    return ok(answer)


routes: list[BaseRoute] = [
    Route(V1, list_v1, methods=["GET"]),
    Route(V2, list_v2, methods=["GET"]),
    Route(V1 + "/{id}", show, methods=["GET"]),
    Route(V1 + "/{id}", delete, methods=["DELETE"]),
    Route(V1 + "/{id}/approve", approve_or_reject, methods=["POST"]),
    Route(V1 + "/{id}/reject", approve_or_reject, methods=["POST"]),
    Route(V1 + "/{id}/action", action, methods=["POST"]),
    Route(V1 + "/{id}/unsuspend", unsuspend, methods=["POST"]),
]
