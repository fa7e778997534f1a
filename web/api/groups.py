"""Flurfunk's group API (`/api/v1/flurfunk/groups`): what Mastodon's API cannot say about a
group — its rules, members and roles, and join requests. `:group` is the group's account id
or its name on this node; a members-only group is 404 to whoever is not in it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from federation import values
from federation.values import InvalidValue
from inbox.dereference import resolve_handle
from models.account import Account
from models.group import Group
from models.status import Status
from outbox import group_moderation, group_removal, groups, relationships
from outbox.media import remove_files
from web.api import serializers
from web.api.accounts import account_or_404
from web.api.base import Call, call, ok
from web.api.errors import forbidden, not_found, validation
from web.api.federating import federation, wake_deliveries

NOT_MODERATOR = "Only the group's owners and moderators may do this"


async def _group(c: Call, session: AsyncSession, raw: str) -> tuple[Account, Group]:
    found = await groups.find_group(session, raw)
    if found is None or not await groups.may_see(session, found[1], c.viewer_id):
        raise not_found()
    return found


async def _moderated(c: Call, session: AsyncSession, raw: str) -> tuple[Account, Group]:
    account, group = await _group(c, session, raw)
    if not await groups.may_moderate(session, account.id, c.account.id):
        raise forbidden(NOT_MODERATOR)
    return account, group


def _audit(
    c: Call,
    session: AsyncSession,
    action: str,
    group: Account,
    what: str = "",
    detail: str = "",
) -> None:
    groups.audit(session, c.account.username, c.account.id, action, group, what, detail)


def _values(rules: dict[str, str | None]) -> str:
    return " ".join(f"{k}={v}" for k, v in rules.items() if v is not None and k != "description")


async def entity(c: Call, session: AsyncSession, account: Account, group: Group) -> dict[str, Any]:
    members = await groups.members(session, account.id)
    return {
        "id": str(account.id),
        "name": account.username,
        "acct": f"{account.username}@{c.node.settings.domain}",
        "title": account.display_name,
        "description": account.note_source,
        "visibility": group.visibility,
        "join": group.join_policy,
        "posting": group.posting,
        "members_count": sum(1 for m in members if m.role != "invited"),
        "role": await groups.role_of(session, account.id, c.account.id),
        "account": serializers.account(account, c.node.links()),
    }


def _rules(c: Call) -> dict[str, str | None]:
    return {
        name: c.params.text(name, max_length=5000)
        for name in ("title", "description", "visibility", "join", "posting")
    }


async def list_groups(request: Request) -> Response:
    c = await call(request, "read")
    async with c.node.db.read() as session:
        found = [
            await entity(c, session, a, g)
            for a, g in await groups.local_groups(session)
            if await groups.may_see(session, g, c.viewer_id)
        ]
    if c.params.flag("mine"):
        found = [g for g in found if g["role"] not in (None, "invited")]
    return ok(found)


async def create_group(request: Request) -> Response:
    c = await call(request, "write")
    name = c.params.text("name", max_length=30)
    if not name:
        raise validation("name is required")
    rules = _rules(c)
    async with c.node.db.write() as session:
        owner = await session.get(Account, c.account.id)
        assert owner is not None
        try:
            account, group = await groups.create_group(
                session,
                c.node.settings,
                name=name,
                owner=owner,
                title=rules["title"] or "",
                description=rules["description"] or "",
                visibility=rules["visibility"] or "public",
                join=rules["join"] or "open",
                posting=rules["posting"] or "members",
            )
        except groups.GroupError as exc:
            raise validation(str(exc)) from None
        _audit(c, session, "group.create", account, detail=_values(rules))
        return ok(await entity(c, session, account, group))


async def show_group(request: Request) -> Response:
    c = await call(request, "read")
    async with c.node.db.read() as session:
        account, group = await _group(c, session, request.path_params["group"])
        return ok(await entity(c, session, account, group))


async def update_group(request: Request) -> Response:
    c = await call(request, "write")
    rules = _rules(c)
    async with c.node.db.write() as session:
        account, group = await _moderated(c, session, request.path_params["group"])
        try:
            await groups.update_group(
                session,
                federation(c),
                account,
                group,
                title=rules["title"],
                description=rules["description"],
                visibility=rules["visibility"],
                join=rules["join"],
                posting=rules["posting"],
            )
        except groups.GroupError as exc:
            raise validation(str(exc)) from None
        changed = _values(rules)
        if rules["description"] is not None:
            changed = (changed + " description").strip()
        _audit(c, session, "group.update", account, detail=changed)
        answer = await entity(c, session, account, group)
    wake_deliveries(c)
    return ok(answer)


async def delete_group(request: Request) -> Response:
    c = await call(request, "write")
    async with c.node.db.write() as session:
        account, _ = await _group(c, session, request.path_params["group"])
        if await groups.role_of(session, account.id, c.account.id) != "owner":
            raise forbidden("Only the group's owners may delete it")
        queued, media = await group_removal.delete_group(session, federation(c), account)
        _audit(c, session, "group.delete", account, detail=f"deliveries={queued}")
    remove_files(c.node.settings, media)  # once committed: a rollback would need them
    wake_deliveries(c)
    return ok({})


async def list_members(request: Request) -> Response:
    c = await call(request, "read")
    async with c.node.db.read() as session:
        account, _ = await _group(c, session, request.path_params["group"])
        links = c.node.links()
        return ok(
            [
                {"account": serializers.account(m.account, links), "role": m.role}
                for m in await groups.members(session, account.id)
            ]
        )


async def _someone(c: Call) -> Account:
    """The account named by `account_id` or `acct` (resolved over WebFinger if remote)."""
    account_id, acct = c.params.text("account_id"), c.params.text("acct", max_length=300)
    if account_id:
        async with c.node.db.read() as session:
            return await account_or_404(session, account_id)
    if not acct:
        raise validation("account_id or acct is required")
    name, _, host = acct.lstrip("@").partition("@")
    fed = federation(c)
    if host and host.lower() != c.node.settings.domain.lower() and fed is not None:
        found = await resolve_handle(fed, f"{name}@{host}")
    else:
        found = await _local_named(c, name)
    if found is None:
        raise not_found()
    return found


async def _local_named(c: Call, name: str) -> Account | None:
    async with c.node.db.read() as session:
        found: Account | None = await session.scalar(
            select(Account).where(
                func.lower(Account.username) == name.lower(), Account.domain.is_(None)
            )
        )
        return found


async def add_member(request: Request) -> Response:
    c = await call(request, "write")
    member = await _someone(c)
    role = c.params.text("role") or "member"
    async with c.node.db.write() as session:
        account, group = await _moderated(c, session, request.path_params["group"])
        member = await session.get(Account, member.id) or member
        try:
            role = await groups.add_member(session, federation(c), account, group, member, role)
        except groups.GroupError as exc:
            raise validation(str(exc)) from None
        action = "group.member_invite" if role == "invited" else "group.member_add"
        _audit(c, session, action, account, member.acct(), role)
        answer = {"account": serializers.account(member, c.node.links()), "role": role}
    wake_deliveries(c)
    return ok(answer)


async def change_member(request: Request) -> Response:
    c = await call(request, "write")
    role = c.params.text("role")
    if not role:
        raise validation("role is required")
    async with c.node.db.write() as session:
        account, group = await _moderated(c, session, request.path_params["group"])
        member = await account_or_404(session, request.path_params["account_id"])
        try:
            role = await groups.set_role(session, federation(c), account, group, member, role)
        except groups.GroupError as exc:
            raise validation(str(exc)) from None
        except LookupError:
            raise not_found() from None
        _audit(c, session, "group.member_role", account, member.acct(), role)
        answer = {"account": serializers.account(member, c.node.links()), "role": role}
    wake_deliveries(c)
    return ok(answer)


async def remove_member(request: Request) -> Response:
    """A moderator removes someone; anyone may remove themselves (leave)."""
    c = await call(request, "write")
    async with c.node.db.write() as session:
        account, _ = await _group(c, session, request.path_params["group"])
        member = await account_or_404(session, request.path_params["account_id"])
        if member.id != c.account.id and not await groups.may_moderate(
            session, account.id, c.account.id
        ):
            raise forbidden(NOT_MODERATOR)
        try:
            if not await groups.remove_member(session, federation(c), account, member):
                raise not_found()
        except groups.GroupError as exc:
            raise validation(str(exc)) from None
        if member.id != c.account.id:  # leaving a group oneself is no moderator action
            _audit(c, session, "group.member_remove", account, member.acct())
    wake_deliveries(c)
    return ok({})


async def join_requests(request: Request) -> Response:
    c = await call(request, "read")
    async with c.node.db.read() as session:
        account, _ = await _moderated(c, session, request.path_params["group"])
        links = c.node.links()
        return ok(
            [serializers.account(a, links) for a in await groups.join_requests(session, account.id)]
        )


async def _decide(request: Request, accept: bool) -> Response:
    c = await call(request, "write")
    async with c.node.db.write() as session:
        account, _ = await _moderated(c, session, request.path_params["group"])
        requester = await account_or_404(session, request.path_params["account_id"])
        decide = relationships.authorize if accept else relationships.reject
        try:
            await decide(session, account, requester, fed=federation(c))
        except relationships.NoFollowRequest:
            raise not_found() from None
        action = "group.join_authorize" if accept else "group.join_reject"
        _audit(c, session, action, account, requester.acct())
        answer = (await serializers.relationships(session, account.id, [requester.id]))[0]
    wake_deliveries(c)
    return ok(answer)


async def remove_post(request: Request) -> Response:
    """A moderator removes a post from the group; the members' nodes hear a Delete."""
    c = await call(request, "write")
    async with c.node.db.write() as session:
        account, group = await _moderated(c, session, request.path_params["group"])
        try:
            status = await session.get(Status, values.row_id(request.path_params["status_id"]))
        except InvalidValue:
            status = None
        if status is None:
            raise not_found()
        try:
            await group_moderation.remove_post(session, federation(c), account, group, status)
        except LookupError:
            raise not_found() from None
        author = await session.get(Account, status.account_id)
        _audit(
            c,
            session,
            "group.status_remove",
            account,
            f"status:{status.id}",
            author.acct() if author is not None else "",
        )
    wake_deliveries(c)
    return ok({})


async def authorize(request: Request) -> Response:
    return await _decide(request, True)


async def reject(request: Request) -> Response:
    return await _decide(request, False)


BASE = "/api/v1/flurfunk/groups"
routes: list[BaseRoute] = [
    Route(BASE, list_groups, methods=["GET"]),
    Route(BASE, create_group, methods=["POST"]),
    Route(BASE + "/{group}", show_group, methods=["GET"]),
    Route(BASE + "/{group}", update_group, methods=["PATCH"]),
    Route(BASE + "/{group}", delete_group, methods=["DELETE"]),
    Route(BASE + "/{group}/members", list_members, methods=["GET"]),
    Route(BASE + "/{group}/members", add_member, methods=["POST"]),
    Route(BASE + "/{group}/members/{account_id}", change_member, methods=["PATCH"]),
    Route(BASE + "/{group}/members/{account_id}", remove_member, methods=["DELETE"]),
    Route(BASE + "/{group}/statuses/{status_id}", remove_post, methods=["DELETE"]),
    Route(BASE + "/{group}/join_requests", join_requests, methods=["GET"]),
    Route(BASE + "/{group}/join_requests/{account_id}/authorize", authorize, methods=["POST"]),
    Route(BASE + "/{group}/join_requests/{account_id}/reject", reject, methods=["POST"]),
]
