"""Relationships: follow, block and mute actions; follow requests; who follows whom."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, aliased
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from federation import values
from federation.values import InvalidValue
from models.base import utcnow
from models.group import MODERATING, GroupRole
from models.relationship import mute_in_force
from models.tables import Account, Block, Follow, FollowRequest, Mute
from outbox import groups
from outbox import relationships as actions
from outbox.context import Federation
from web.api import serializers
from web.api.accounts import account_or_404
from web.api.base import Call, call, ok, page_of, paginated
from web.api.errors import ApiError, forbidden, not_found
from web.api.federating import federation, wake_deliveries
from web.api.policy_gate import policy_gated

ACCOUNTS_PAGE = 40
ACCOUNTS_MAX = 80
MANY_RELATIONSHIPS = 80
LONGEST_MUTE = 10 * 365 * 24 * 3600  # seconds; longer is as good as forever

Action = Callable[[AsyncSession, Account, Account], Awaitable[None]]


class FederatedAction(Protocol):
    def __call__(
        self, session: AsyncSession, account: Account, other: Account, /, *, fed: Federation | None
    ) -> Awaitable[None]: ...


async def _act(c: Call, target_id: Any, action: Action) -> Response:
    """Run one action on (caller, target) in one transaction; answer the new Relationship."""
    async with c.node.db.write() as session:
        me = await session.get(Account, c.account.id)
        assert me is not None
        target = await account_or_404(session, target_id)
        try:
            await action(session, me, target)
        except actions.NotPermitted as exc:
            raise forbidden(str(exc)) from None
        except actions.NoFollowRequest:
            raise not_found() from None
        relationship = (await serializers.relationships(session, me.id, [target.id]))[0]
    wake_deliveries(c)
    return ok(relationship)


def _optional_flag(c: Call, name: str) -> bool | None:
    return c.params.flag(name) if name in c.params else None


@policy_gated
async def follow(request: Request) -> Response:
    c = await call(request, "write:follows")
    reblogs, notify_posts = _optional_flag(c, "reblogs"), _optional_flag(c, "notify")

    async def act(session: AsyncSession, me: Account, target: Account) -> None:
        await actions.follow(
            session, me, target, reblogs=reblogs, notify_posts=notify_posts, fed=federation(c)
        )

    return await _act(c, request.path_params["id"], act)


async def _federated(request: Request, scope: str, action: FederatedAction) -> Response:
    """An action other nodes hear of (follow, block and their answers and undoing)."""
    c = await call(request, scope)

    async def act(session: AsyncSession, me: Account, target: Account) -> None:
        await action(session, me, target, fed=federation(c))

    return await _act(c, request.path_params["id"], act)


async def unfollow(request: Request) -> Response:
    return await _federated(request, "write:follows", actions.unfollow)


async def remove_from_followers(request: Request) -> Response:
    return await _federated(request, "write:follows", actions.remove_from_followers)


async def block(request: Request) -> Response:
    return await _federated(request, "write:blocks", actions.block)


async def unblock(request: Request) -> Response:
    return await _federated(request, "write:blocks", actions.unblock)


async def mute(request: Request) -> Response:
    c = await call(request, "write:mutes")
    notifications = c.params.flag("notifications", True)
    duration = c.params.number("duration", 0, minimum=0, maximum=LONGEST_MUTE) or 0
    expires_at = utcnow() + timedelta(seconds=duration) if duration else None

    async def act(session: AsyncSession, me: Account, target: Account) -> None:
        await actions.mute(session, me, target, notifications=notifications, expires_at=expires_at)

    return await _act(c, request.path_params["id"], act)


async def unmute(request: Request) -> Response:
    c = await call(request, "write:mutes")
    return await _act(c, request.path_params["id"], actions.unmute)


async def _own_or_group_request(request: Request, decide: FederatedAction) -> Response:
    """A request to follow the caller, else a request to join a group the caller moderates
    (decided in the group's name; the answer is the requester's relationship to the group)."""
    c = await call(request, "write:follows")
    async with c.node.db.write() as session:
        me = await session.get(Account, c.account.id)
        assert me is not None
        requester = await account_or_404(session, request.path_params["id"])
        deciding = me
        if not await _pending(session, requester.id, me.id):
            moderated = await groups.moderated_group_ids(session, me.id)
            for group_id in moderated:
                if await _pending(session, requester.id, group_id):
                    deciding = await session.get(Account, group_id) or me
                    break
        try:
            await decide(session, deciding, requester, fed=federation(c))
        except actions.NoFollowRequest:
            raise not_found() from None
        relationship = (await serializers.relationships(session, me.id, [requester.id]))[0]
    wake_deliveries(c)
    return ok(relationship)


async def _pending(session: AsyncSession, requester_id: int, target_id: int) -> bool:
    found = await session.scalar(
        select(FollowRequest.id).where(
            FollowRequest.account_id == requester_id, FollowRequest.target_account_id == target_id
        )
    )
    return found is not None


async def authorize(request: Request) -> Response:
    return await _own_or_group_request(request, actions.authorize)


async def reject(request: Request) -> Response:
    return await _own_or_group_request(request, actions.reject)


def _digit_ids(texts: list[str]) -> list[int]:
    """Ids as asked, deduplicated; a malformed one names no account and is left out."""
    return values.row_ids(texts)


async def relationships(request: Request) -> Response:
    c = await call(request, "read:follows")
    wanted = _digit_ids(c.params.strings("id"))[:MANY_RELATIONSHIPS]
    async with c.node.db.read() as session:
        known = set(
            await session.scalars(
                select(Account.id).where(Account.id.in_(wanted), Account.suspended_at.is_(None))
            )
        )
        ids = [i for i in wanted if i in known]
        return ok(await serializers.relationships(session, c.account.id, ids))


async def _ids_from_json_body(request: Request) -> list[str]:
    """Mastodon.py sends familiar_followers' ids as a JSON body on a GET."""
    body = await request.body()
    if not body.strip():
        return []
    try:
        parsed = values.json_document(body)
    except InvalidValue as exc:
        raise ApiError(400, f"The request body is not usable: {exc}") from None
    ids = parsed.get("id", []) if isinstance(parsed, dict) else []
    return [str(i) for i in (ids if isinstance(ids, list) else [ids])]


async def familiar_followers(request: Request) -> Response:
    """For each account: those who follow it among the accounts the caller follows."""
    c = await call(request, "read:follows")
    raw = c.params.strings("id") or await _ids_from_json_body(request)
    wanted = _digit_ids(raw)[:MANY_RELATIONSHIPS]
    mine = aliased(Follow)
    followed_by_me = select(mine.target_account_id).where(mine.account_id == c.account.id)
    out = []
    async with c.node.db.read() as session:
        for target_id in wanted:
            rows = await session.scalars(
                select(Account)
                .join(Follow, Follow.account_id == Account.id)
                .where(
                    Follow.target_account_id == target_id,
                    Account.id.in_(followed_by_me),
                    Account.suspended_at.is_(None),
                )
                .order_by(Follow.id.desc())
                .limit(ACCOUNTS_MAX)
            )
            accounts = [serializers.account(a, c.node.links()) for a in rows]
            out.append({"id": str(target_id), "accounts": accounts})
    return ok(out)


async def _account_page(
    c: Call,
    rows_query: Any,
    cursor: InstrumentedAttribute[int],
    extra: Callable[[Any], dict[str, Any]],
) -> Response:
    """A page of accounts, paged by the id of the row that links them (follow, block, …)."""
    page = page_of(c.params, ACCOUNTS_PAGE, ACCOUNTS_MAX)
    async with c.node.db.read() as session:
        rows = page.settle((await session.execute(page.apply(rows_query, cursor))).all())
    items = [serializers.account(row[1], c.node.links()) | extra(row) for row in rows]
    return paginated(c, items, [row[0] for row in rows])


def _plain(row: Any) -> dict[str, Any]:
    return {}


async def _collection(request: Request, *, followers: bool) -> Response:
    c = await call(request, "read:accounts", optional=True)
    async with c.node.db.read() as session:
        owner = await account_or_404(session, request.path_params["id"])
        hidden = c.viewer_id is not None and await session.scalar(
            select(Block.id).where(
                Block.account_id == owner.id, Block.target_account_id == c.viewer_id
            )
        )
    if hidden:
        return ok([])
    mine, theirs = (
        (Follow.target_account_id, Follow.account_id)
        if followers
        else (Follow.account_id, Follow.target_account_id)
    )
    query = (
        select(Follow.id, Account)
        .join(Account, Account.id == theirs)
        .where(mine == owner.id, Account.suspended_at.is_(None))
    )
    return await _account_page(c, query, Follow.id, _plain)


async def followers(request: Request) -> Response:
    return await _collection(request, followers=True)


async def following(request: Request) -> Response:
    return await _collection(request, followers=False)


async def follow_requests(request: Request) -> Response:
    c = await call(request, "read:follows")
    query = (
        select(FollowRequest.id, Account)
        .join(Account, Account.id == FollowRequest.account_id)
        .where(
            or_(
                FollowRequest.target_account_id == c.account.id,
                # Join requests of the groups the caller moderates (FEP-1b12).
                FollowRequest.target_account_id.in_(
                    select(GroupRole.group_id).where(
                        GroupRole.account_id == c.account.id, GroupRole.role.in_(MODERATING)
                    )
                ),
            )
        )
    )
    return await _account_page(c, query, FollowRequest.id, _plain)


async def blocks(request: Request) -> Response:
    c = await call(request, "read:blocks")
    query = (
        select(Block.id, Account)
        .join(Account, Account.id == Block.target_account_id)
        .where(Block.account_id == c.account.id)
    )
    return await _account_page(c, query, Block.id, _plain)


async def mutes(request: Request) -> Response:
    c = await call(request, "read:mutes")
    query = (
        select(Mute.id, Account, Mute.expires_at)
        .join(Account, Account.id == Mute.target_account_id)
        .where(Mute.account_id == c.account.id, mute_in_force())
    )
    return await _account_page(
        c, query, Mute.id, lambda row: {"mute_expires_at": serializers.iso(row[2])}
    )


routes: list[BaseRoute] = [
    Route("/api/v1/accounts/relationships", relationships, methods=["GET"]),
    Route("/api/v1/accounts/familiar_followers", familiar_followers, methods=["GET"]),
    Route("/api/v1/accounts/{id:int}/followers", followers, methods=["GET"]),
    Route("/api/v1/accounts/{id:int}/following", following, methods=["GET"]),
    Route("/api/v1/accounts/{id:int}/follow", follow, methods=["POST"]),
    Route("/api/v1/accounts/{id:int}/unfollow", unfollow, methods=["POST"]),
    Route(
        "/api/v1/accounts/{id:int}/remove_from_followers", remove_from_followers, methods=["POST"]
    ),
    Route("/api/v1/accounts/{id:int}/block", block, methods=["POST"]),
    Route("/api/v1/accounts/{id:int}/unblock", unblock, methods=["POST"]),
    Route("/api/v1/accounts/{id:int}/mute", mute, methods=["POST"]),
    Route("/api/v1/accounts/{id:int}/unmute", unmute, methods=["POST"]),
    Route("/api/v1/follow_requests", follow_requests, methods=["GET"]),
    Route("/api/v1/follow_requests/{id:int}/authorize", authorize, methods=["POST"]),
    Route("/api/v1/follow_requests/{id:int}/reject", reject, methods=["POST"]),
    Route("/api/v1/blocks", blocks, methods=["GET"]),
    Route("/api/v1/mutes", mutes, methods=["GET"]),
]
