"""The person's side of moderation and the decisions on appeals:

- `GET /api/v1/flurfunk/warnings[/ID]`: one's own warnings (Mastodon's AccountWarning);
- `GET|POST /api/v1/flurfunk/appeals` (`warning_id`, `text`): one's appeals, or appeal; with
  `all=true` a moderator (`manage_reports`) lists everyone's (filter `state`);
- `POST /api/v1/flurfunk/appeals/ID/approve|reject`: a moderator other than the one who acted
  decides; approving lifts the action;
- `POST /api/v1/flurfunk/moderation/statuses` (`type` delete|sensitive, `status_ids[]`,
  `text`, `report_id`): moderators' actions on posts, as Mastodon's status batch actions
  (which its client API does not offer), each with a warning to the author.

A suspended account may read its warnings and its appeals and appeal (web.api.base).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from models.account import Account
from models.moderation import AccountWarning, Appeal
from outbox import moderation
from outbox.permissions import AdminError, MissingPermission, Operator
from web.api.base import Call, call, ok
from web.api.errors import not_found, validation
from web.api.federating import wake_deliveries
from web.api.params import parse_id
from web.api.roles import operator, refused
from web.api.serializers import iso
from web.api.serializers.moderation import warning as warning_entity

HERE = "/api/v1/flurfunk"
STATES = ("pending", "approved", "rejected")


async def _warnings(
    c: Call, session: AsyncSession, rows: list[AccountWarning]
) -> list[dict[str, Any]]:
    ids = [w.id for w in rows]
    appeals = {
        a.warning_id: a
        for a in await session.scalars(select(Appeal).where(Appeal.warning_id.in_(ids)))
    }
    owners = {w.account_id for w in rows}
    accounts = {
        a.id: a for a in await session.scalars(select(Account).where(Account.id.in_(owners)))
    }
    links = c.node.links()
    return [
        warning_entity(w, accounts[w.account_id], appeals.get(w.id), links)
        for w in rows
        if w.account_id in accounts
    ]


async def warnings(request: Request) -> Response:
    c = await call(request, "read:accounts")
    async with c.node.db.read() as session:
        rows = list(
            await session.scalars(
                select(AccountWarning)
                .where(AccountWarning.account_id == c.account.id)
                .order_by(AccountWarning.id.desc())
                .limit(200)
            )
        )
        return ok(await _warnings(c, session, rows))


async def one_warning(request: Request) -> Response:
    c = await call(request, "read:accounts")
    async with c.node.db.read() as session:
        found = await session.get(AccountWarning, parse_id(request.path_params["id"]))
        if found is None or found.account_id != c.account.id:
            raise not_found()
        return ok((await _warnings(c, session, [found]))[0])


async def _appeals(c: Call, session: AsyncSession, rows: list[Appeal]) -> list[dict[str, Any]]:
    found = list(
        await session.scalars(
            select(AccountWarning).where(AccountWarning.id.in_([a.warning_id for a in rows]))
        )
    )
    presented = {w["id"]: w for w in await _warnings(c, session, found)}
    out = []
    for a in rows:
        shown = presented.get(str(a.warning_id))
        if shown is None:
            continue
        out.append(
            {
                "id": str(a.id),
                "text": a.text,
                "state": a.state,
                "created_at": iso(a.created_at),
                "account": shown["target_account"],
                "warning": shown,
            }
        )
    return out


async def _may_moderate(c: Call) -> Operator:
    who = await operator(c)
    if not who.may("manage_reports"):
        raise refused(MissingPermission("manage_reports"))
    return who


async def appeals(request: Request) -> Response:
    c = await call(request, "read:accounts")
    query = select(Appeal).order_by(Appeal.id.desc()).limit(200)
    if c.params.flag("all"):
        await _may_moderate(c)
        state = c.params.text("state", None, max_length=16)
        if state not in (None, "", *STATES):
            raise validation(f"state must be one of {', '.join(STATES)}")
        if state == "pending":
            query = query.where(Appeal.approved_at.is_(None), Appeal.rejected_at.is_(None))
        elif state == "approved":
            query = query.where(Appeal.approved_at.is_not(None))
        elif state == "rejected":
            query = query.where(Appeal.rejected_at.is_not(None))
    else:
        query = query.where(Appeal.account_id == c.account.id)
    async with c.node.db.read() as session:
        return ok(await _appeals(c, session, list(await session.scalars(query))))


async def _shown(c: Call, appeal_id: int) -> Response:
    async with c.node.db.read() as session:
        found = await session.get(Appeal, appeal_id)
        if found is None:
            raise not_found()
        return ok((await _appeals(c, session, [found]))[0])


async def one_appeal(request: Request) -> Response:
    c = await call(request, "read:accounts")
    appeal_id = parse_id(request.path_params["id"])
    async with c.node.db.read() as session:
        found = await session.get(Appeal, appeal_id)
    if found is None:
        raise not_found()
    if found.account_id != c.account.id:
        who = await operator(c)
        if not who.may("manage_reports"):
            raise not_found()
    return await _shown(c, appeal_id)


async def file_appeal(request: Request) -> Response:
    c = await call(request, "write:accounts")
    if "warning_id" not in c.params:
        raise validation("warning_id is missing")
    warning_id = parse_id(c.params.raw("warning_id"))
    text = c.params.text("text", "", max_length=moderation.APPEAL_MAX) or ""
    try:
        async with c.node.db.write() as session:
            found = await moderation.appeal(session, c.account, warning_id, text)
    except moderation.UnknownRecord:
        raise not_found() from None
    except AdminError as exc:
        raise refused(exc) from None
    return await _shown(c, found.id)


def _decide(approving: bool) -> Any:
    async def endpoint(request: Request) -> Response:
        c = await call(request, "admin:write:reports")
        who = await _may_moderate(c)
        appeal_id = parse_id(request.path_params["id"])
        try:
            async with c.node.db.write() as session:
                if approving:
                    await moderation.approve(session, who, appeal_id, c.node.federation)
                else:
                    await moderation.reject(session, who, appeal_id)
        except moderation.UnknownRecord:
            raise not_found() from None
        except AdminError as exc:
            raise refused(exc) from None
        wake_deliveries(c)
        return await _shown(c, appeal_id)

    return endpoint


async def moderate_statuses(request: Request) -> Response:
    c = await call(request, "admin:write:reports")
    who = await _may_moderate(c)
    kind = c.params.text("type", "", max_length=16) or ""
    if kind not in moderation.STATUS_ACTIONS:
        raise validation(f"type must be one of {', '.join(moderation.STATUS_ACTIONS)}")
    status_ids = c.params.ids("status_ids")
    if not status_ids:
        raise validation("status_ids is missing")
    text = c.params.text("text", "", max_length=moderation.TEXT_MAX) or ""
    report_id = c.params.id("report_id")
    try:
        async with c.node.db.write() as session:
            done = await moderation.act_on_statuses(
                session, c.node.federation, who, kind, status_ids, text, report_id=report_id
            )
            answer = await _warnings(c, session, done)
    except moderation.UnknownRecord:
        raise not_found() from None
    except AdminError as exc:
        raise refused(exc) from None
    wake_deliveries(c)
    return ok(answer)


routes: list[BaseRoute] = [
    Route(HERE + "/warnings", warnings, methods=["GET"]),
    Route(HERE + "/warnings/{id}", one_warning, methods=["GET"]),
    Route(HERE + "/appeals", appeals, methods=["GET"]),
    Route(HERE + "/appeals", file_appeal, methods=["POST"]),
    Route(HERE + "/appeals/{id}", one_appeal, methods=["GET"]),
    Route(HERE + "/appeals/{id}/approve", _decide(True), methods=["POST"]),
    Route(HERE + "/appeals/{id}/reject", _decide(False), methods=["POST"]),
    Route(HERE + "/moderation/statuses", moderate_statuses, methods=["POST"]),
]
