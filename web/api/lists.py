"""Lists: /api/v1/lists, their members, and which of the caller's lists hold an account."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from models.tables import Account, List, ListAccount
from outbox import lists as list_actions
from web.api import serializers
from web.api.base import Call, call, ok, page_of, paginated
from web.api.errors import not_found, validation
from web.api.params import parse_id

ACCOUNTS_PAGE = 40
ACCOUNTS_MAX = 80


def present(lst: List) -> dict[str, Any]:
    return {
        "id": str(lst.id),
        "title": lst.title,
        "replies_policy": lst.replies_policy,
        "exclusive": lst.exclusive,
    }


def list_settings(c: Call, lst: List | None) -> tuple[str, str, bool]:
    """Title, replies policy and exclusivity from the request, falling back to `lst`'s."""
    title = c.params.text("title", lst.title if lst else None, max_length=255)
    if title is None or not title.strip():
        raise validation("Title can't be blank")
    policy = c.params.text("replies_policy") or (lst.replies_policy if lst else "list")
    if policy not in list_actions.REPLIES_POLICIES:
        raise validation("Replies policy is not included in the list")
    exclusive = c.params.flag("exclusive", lst.exclusive if lst else False)
    return title.strip(), policy, exclusive


async def own_list(c: Call, raw_id: str) -> List:
    """The caller's list with this id; anyone else's is as unknown as a missing one."""
    async with c.node.db.read() as session:
        lst = await session.get(List, parse_id(raw_id))
    if lst is None or lst.account_id != c.account.id:
        raise not_found()
    return lst


async def index(request: Request) -> Response:
    c = await call(request, "read:lists")
    async with c.node.db.read() as session:
        rows = await session.execute(
            select(List).where(List.account_id == c.account.id).order_by(List.id)
        )
        return ok([present(lst) for lst in rows.scalars()])


async def create(request: Request) -> Response:
    c = await call(request, "write:lists")
    title, policy, exclusive = list_settings(c, None)
    async with c.node.db.write() as session:
        try:
            lst = await list_actions.create_list(session, c.account.id, title, policy, exclusive)
        except list_actions.ListError as exc:
            raise validation(str(exc)) from None
    return ok(present(lst))


async def show(request: Request) -> Response:
    c = await call(request, "read:lists")
    return ok(present(await own_list(c, request.path_params["id"])))


async def update(request: Request) -> Response:
    c = await call(request, "write:lists")
    lst = await own_list(c, request.path_params["id"])
    title, policy, exclusive = list_settings(c, lst)
    async with c.node.db.write() as session:
        row = await session.get(List, lst.id)
        if row is None:
            raise not_found()
        row.title, row.replies_policy, row.exclusive = title, policy, exclusive
    return ok(present(row))


async def destroy(request: Request) -> Response:
    c = await call(request, "write:lists")
    lst = await own_list(c, request.path_params["id"])
    async with c.node.db.write() as session:
        row = await session.get(List, lst.id)
        if row is not None:
            await session.delete(row)
    return ok()


async def members(request: Request) -> Response:
    """The list's accounts, 40 a page; `limit=0` asks for all of them at once."""
    c = await call(request, "read:lists")
    lst = await own_list(c, request.path_params["id"])
    everything = c.params.number("limit") == 0
    page = page_of(c.params, ACCOUNTS_PAGE, ACCOUNTS_MAX)
    query = (
        select(Account)
        .join(ListAccount, ListAccount.account_id == Account.id)
        .where(ListAccount.list_id == lst.id)
    )
    async with c.node.db.read() as session:
        if everything:
            rows = list((await session.execute(query.order_by(Account.id.desc()))).scalars())
        else:
            rows = page.settle(
                (await session.execute(page.apply(query, Account.id))).scalars().all()
            )
    items = [serializers.account(a, c.node.links()) for a in rows]
    if everything:
        return ok(items)
    return paginated(c, items, [a.id for a in rows])


async def add_members(request: Request) -> Response:
    c = await call(request, "write:lists")
    lst = await own_list(c, request.path_params["id"])
    account_ids = c.params.ids("account_ids")
    async with c.node.db.write() as session:
        try:
            await list_actions.add_members(session, lst, account_ids)
        except list_actions.UnknownAccount:
            raise not_found() from None
        except list_actions.ListError as exc:
            raise validation(str(exc)) from None
    return ok()


async def remove_members(request: Request) -> Response:
    c = await call(request, "write:lists")
    lst = await own_list(c, request.path_params["id"])
    account_ids = c.params.ids("account_ids")
    async with c.node.db.write() as session:
        await list_actions.remove_members(session, lst, account_ids)
    return ok()


async def lists_with_account(request: Request) -> Response:
    """GET /api/v1/accounts/:id/lists: which of the caller's lists hold this account."""
    c = await call(request, "read:lists")
    account_id = parse_id(request.path_params["id"])
    async with c.node.db.read() as session:
        if await session.get(Account, account_id) is None:
            raise not_found()
        rows = await session.execute(
            select(List)
            .join(ListAccount, ListAccount.list_id == List.id)
            .where(List.account_id == c.account.id, ListAccount.account_id == account_id)
            .order_by(List.id)
        )
        return ok([present(lst) for lst in rows.scalars()])


routes: list[BaseRoute] = [
    Route("/api/v1/lists", index, methods=["GET"]),
    Route("/api/v1/lists", create, methods=["POST"]),
    Route("/api/v1/lists/{id}", show, methods=["GET"]),
    Route("/api/v1/lists/{id}", update, methods=["PUT", "PATCH"]),
    Route("/api/v1/lists/{id}", destroy, methods=["DELETE"]),
    Route("/api/v1/lists/{id}/accounts", members, methods=["GET"]),
    Route("/api/v1/lists/{id}/accounts", add_members, methods=["POST"]),
    Route("/api/v1/lists/{id}/accounts", remove_members, methods=["DELETE"]),
    Route("/api/v1/accounts/{id}/lists", lists_with_account, methods=["GET"]),
]
