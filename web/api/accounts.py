"""Accounts: the caller's own profile, looking accounts up, and an account's statuses."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from sqlalchemy import case, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from federation import values
from models.tables import (
    Account,
    Follow,
    FollowRequest,
    MediaAttachment,
    Pin,
    Status,
    StatusTag,
    Tag,
    User,
)
from models.visibility import not_blocked_either_way, visible_to
from outbox import profile
from outbox.roles import find_role
from web.api import filtering, serializers
from web.api.base import Call, call, ok, page_of, paginated
from web.api.errors import ApiError, not_found, validation
from web.api.federating import federation, wake_deliveries
from web.api.hosts import account_admitted, hidden_domains, status_admitted
from web.api.params import Params, parse_id
from web.api.resolve import account_by_handle, is_remote_handle
from web.auth import scope_allows

SEARCH_LIMIT = 40
SEARCH_MAX = 80
MANY_ACCOUNTS = 40  # ids accepted by GET /api/v1/accounts?id[]=


async def account_or_404(session: AsyncSession, raw_id: Any) -> Account:
    """An account clients may see (not suspended) by id; anything else is unknown."""
    found = await session.get(Account, parse_id(raw_id))
    if found is None or found.suspended_at is not None:
        raise not_found()
    return found


async def _credentials(session: AsyncSession, c: Call, a: Account, u: User) -> dict[str, Any]:
    data = serializers.credential_account(a, u, c.node.links())
    data["role"] = serializers.role(await find_role(session, u.role))
    if data["role"]["highlighted"]:
        data["roles"] = [{k: data["role"][k] for k in ("id", "name", "color")}]
    data["source"]["follow_requests_count"] = int(
        await session.scalar(
            select(func.count())
            .select_from(FollowRequest)
            .where(FollowRequest.target_account_id == a.id)
        )
        or 0
    )
    return data


async def verify_credentials(request: Request) -> Response:
    c = await call(request)
    assert c.caller is not None
    if not any(scope_allows(c.caller.scopes, s) for s in ("read:accounts", "profile")):
        raise ApiError(403, "This action is outside the authorized scopes")
    async with c.node.db.read() as session:
        return ok(await _credentials(session, c, c.account, c.user))


def _profile_fields(params: Params) -> list[tuple[str, str]]:
    """`fields_attributes[0][name]=…` forms and JSON lists or objects all read the same."""
    pairs = []
    for item in params.items("fields_attributes"):
        if not isinstance(item, dict):
            raise validation("fields_attributes must hold name/value pairs")
        name, value = item.get("name", ""), item.get("value", "")
        if not isinstance(name, str) or not isinstance(value, str):
            raise validation("fields_attributes names and values must be strings")
        if name.strip() or value.strip():
            pairs.append((name.strip(), value.strip()))
    return pairs


async def _profile_image(params: Params, kind: str) -> profile.ProfileImage | None:
    upload = params.file(kind)
    if upload is None:
        if params.raw(kind) not in (None, ""):
            raise validation(f"{kind} must be an uploaded file")
        return None
    data = await upload.read(profile.MAX_IMAGE_BYTES + 1)
    if not data:
        return None
    try:
        return await asyncio.to_thread(profile.read_image, data, kind)
    except profile.ProfileError as exc:
        raise validation(str(exc)) from None


async def _profile_changes(params: Params) -> profile.ProfileChanges:
    source = params.sub("source")
    changes = profile.ProfileChanges(
        display_name=params.text("display_name"),
        note=params.text("note"),
        locked=params.flag("locked") if "locked" in params else None,
        bot=params.flag("bot") if "bot" in params else None,
        discoverable=params.flag("discoverable") if "discoverable" in params else None,
        fields=_profile_fields(params) if "fields_attributes" in params else None,
        privacy=source.text("privacy"),
        sensitive=source.flag("sensitive") if "sensitive" in source else None,
        language=source.text("language"),
    )
    try:
        profile.check(changes)
    except profile.ProfileError as exc:
        raise validation(str(exc)) from None
    # Images last: decoding is the expensive check.
    avatar = await _profile_image(params, "avatar")
    header = await _profile_image(params, "header")
    return dataclasses.replace(changes, avatar=avatar, header=header)


async def update_credentials(request: Request) -> Response:
    c = await call(request, "write:accounts")
    changes = await _profile_changes(c.params)
    settings = c.node.settings
    stored: dict[str, str] = {}
    for kind, image in (("avatar", changes.avatar), ("header", changes.header)):
        if image is not None:
            stored[kind] = await asyncio.to_thread(
                profile.store_image, settings, c.account.id, kind, image
            )
    try:
        async with c.node.db.write() as session:
            account = await session.get(Account, c.account.id)
            user = await session.get(User, c.account.id)
            assert account is not None
            assert user is not None
            replaced = await profile.update_profile(
                session, settings, account, user, changes, stored, fed=federation(c)
            )
            data = await _credentials(session, c, account, user)
        wake_deliveries(c)
    except BaseException:
        for path in stored.values():
            profile.forget_image(settings, path)
        raise
    for path in replaced:
        await asyncio.to_thread(profile.forget_image, settings, path)
    return ok(data)


async def _remove_image(request: Request, kind: str) -> Response:
    c = await call(request, "write:accounts")
    async with c.node.db.write() as session:
        account = await session.get(Account, c.account.id)
        user = await session.get(User, c.account.id)
        assert account is not None
        assert user is not None
        old = await profile.remove_image(session, account, kind, fed=federation(c))
        data = await _credentials(session, c, account, user)
    wake_deliveries(c)
    await asyncio.to_thread(profile.forget_image, c.node.settings, old)
    return ok(data)


async def remove_avatar(request: Request) -> Response:
    return await _remove_image(request, "avatar")


async def remove_header(request: Request) -> Response:
    return await _remove_image(request, "header")


async def show(request: Request) -> Response:
    c = await call(request, "read:accounts", optional=True)
    async with c.node.db.read() as session:
        found = await account_or_404(session, request.path_params["id"])
    return ok(serializers.account(found, c.node.links()))


async def many(request: Request) -> Response:
    """GET /api/v1/accounts?id[]=…: the known ones, in the order asked."""
    c = await call(request, "read:accounts", optional=True)
    wanted = values.row_ids(c.params.strings("id"))[:MANY_ACCOUNTS]
    async with c.node.db.read() as session:
        rows = await session.scalars(
            select(Account).where(Account.id.in_(wanted), Account.suspended_at.is_(None))
        )
        found = {a.id: a for a in rows}
    return ok([serializers.account(found[i], c.node.links()) for i in wanted if i in found])


def _account_statuses_query(
    c: Call, author_id: int, hidden: frozenset[str], group: bool = False
) -> Any:
    """An account's statuses; a group's are the posts addressed to it (FEP-1b12)."""
    posted = Status.audience_id == author_id if group else Status.account_id == author_id
    query = select(Status).where(posted, visible_to(c.viewer_id), status_admitted(hidden))
    params = c.params
    if params.flag("only_media"):
        query = query.where(exists().where(MediaAttachment.status_id == Status.id))
    if params.flag("exclude_replies"):
        # Threads the author continues are not replies to anyone else; Mastodon keeps them.
        query = query.where(
            or_(Status.in_reply_to_id.is_(None), Status.in_reply_to_account_id == author_id)
        )
    if params.flag("exclude_reblogs"):
        query = query.where(Status.reblog_of_id.is_(None))
    if params.flag("exclude_direct"):
        query = query.where(Status.visibility != "direct")
    if params.flag("pinned"):
        query = query.where(exists().where(Pin.status_id == Status.id, Pin.account_id == author_id))
    tagged = (params.text("tagged") or "").strip().lstrip("#").lower()
    if tagged:
        query = query.where(
            exists()
            .where(StatusTag.status_id == Status.id)
            .where(StatusTag.tag_id.in_(select(Tag.id).where(Tag.name == tagged)))
        )
    return query


async def statuses(request: Request) -> Response:
    c = await call(request, "read:statuses", optional=True)
    page = page_of(c.params, 20, 40)
    hidden = await hidden_domains(c.node)
    async with c.node.db.read() as session:
        author = await account_or_404(session, request.path_params["id"])
        query = page.apply(
            _account_statuses_query(c, author.id, hidden, group=author.group), Status.id
        )
        rows = page.settle((await session.scalars(query)).all())
        items = await serializers.statuses(session, c.node.links(), rows, c.viewer_id)
    items = await filtering.statuses(c, "account", items)
    return paginated(c, items, [s.id for s in rows])


async def lookup(request: Request) -> Response:
    """`name` or `name@this.domain`; another node's handle is looked up there (WebFinger)
    when its host is allowed, as Mastodon resolves in lookup."""
    c = await call(request, "read:accounts", optional=True)
    acct = (c.params.text("acct") or "").strip().removeprefix("@")
    name, _, host = acct.partition("@")
    if name and is_remote_handle(c.node, acct):
        remote = await account_by_handle(c.node, acct)
        if remote is None or remote.suspended_at is not None:
            raise not_found()
        return ok(serializers.account(remote, c.node.links()))
    if not name or (host and host.lower() != c.node.settings.domain.lower()):
        raise not_found()
    async with c.node.db.read() as session:
        found = await session.scalar(
            select(Account).where(
                func.lower(Account.username) == name.lower(),
                Account.domain.is_(None),
                Account.suspended_at.is_(None),
            )
        )
    if found is None:
        raise not_found()
    return ok(serializers.account(found, c.node.links()))


def _like_prefix(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def _search_query(c: Call, q: str, hidden: frozenset[str]) -> Any:
    name, _, host = q.partition("@")
    username = func.lower(Account.username)
    prefix = _like_prefix(name.lower())
    query = select(Account).where(
        Account.suspended_at.is_(None),
        not_blocked_either_way(c.viewer_id, Account.id.expression),
        account_admitted(hidden),
    )
    if host:
        local = host.lower() == c.node.settings.domain.lower()
        query = query.where(
            username.like(prefix, escape="\\"),
            Account.domain.is_(None) if local else func.lower(Account.domain) == host.lower(),
        )
    else:
        display = func.lower(Account.display_name)
        query = query.where(
            or_(
                username.like(prefix, escape="\\"),
                display.like(prefix, escape="\\"),
                display.like("% " + prefix, escape="\\"),
            )
        )
    if c.params.flag("following"):
        query = query.where(
            Account.id.in_(
                select(Follow.target_account_id).where(Follow.account_id == c.account.id)
            )
        )
    exact = case((username == name.lower(), 0), else_=1)
    local_first = case((Account.domain.is_(None), 0), else_=1)
    return query.order_by(exact, local_first, Account.followers_count.desc(), username, Account.id)


async def search(request: Request) -> Response:
    """Prefix search over user names and display names of local and known remote accounts."""
    c = await call(request, "read:accounts")
    q = (c.params.text("q") or "").strip().removeprefix("@")
    limit = c.params.number("limit", SEARCH_LIMIT, minimum=1, maximum=SEARCH_MAX) or SEARCH_LIMIT
    offset = c.params.number("offset", 0, minimum=0) or 0
    if not q:
        return ok([])
    if c.params.flag("resolve") and is_remote_handle(c.node, q):
        await account_by_handle(c.node, q)  # stored, so that the search below finds it
    hidden = await hidden_domains(c.node)
    async with c.node.db.read() as session:
        rows = await session.scalars(_search_query(c, q, hidden).limit(limit).offset(offset))
        return ok([serializers.account(a, c.node.links()) for a in rows])


routes: list[BaseRoute] = [
    Route("/api/v1/accounts", many, methods=["GET"]),
    Route("/api/v1/accounts/verify_credentials", verify_credentials, methods=["GET"]),
    Route("/api/v1/accounts/update_credentials", update_credentials, methods=["PATCH"]),
    Route("/api/v1/accounts/lookup", lookup, methods=["GET"]),
    Route("/api/v1/accounts/search", search, methods=["GET"]),
    Route("/api/v1/profile/avatar", remove_avatar, methods=["DELETE"]),
    Route("/api/v1/profile/header", remove_header, methods=["DELETE"]),
    Route("/api/v1/accounts/{id:int}", show, methods=["GET"]),
    Route("/api/v1/accounts/{id:int}/statuses", statuses, methods=["GET"]),
]
