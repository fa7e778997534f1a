"""`/api/v1/flurfunk/retention` and `/api/v1/flurfunk/legal_holds`: the node's retention
rules and legal holds (permission `manage_compliance`), the same actions as `flurfunk
retention` and `flurfunk hold` with the same audit entries.

Retention: GET lists the rules; POST (`days`, `visibility`, default `all`) sets one;
DELETE (optional `visibility`) removes them. The sweep runs hourly in the background and on
demand from the command line (`flurfunk retention sweep`), never inside a request.
Legal holds: GET lists them; POST (`account`: `name`, `name@host` or `group:NAME` — or
`group`: NAME —, `reason`) adds one; DELETE `/legal_holds/:account` (or `account` or `group`
as a parameter) lifts it. A hold on a group is listed as `group:NAME` with `"group": true`.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from outbox import legal_holds, retention
from outbox.legal_holds import Hold
from outbox.permissions import AdminError, Operator, require
from outbox.retention import Rule
from web.api.base import Call, call, ok
from web.api.errors import ApiError, validation
from web.api.roles import operator
from web.api.serializers.entities import iso

RETENTION = "/api/v1/flurfunk/retention"
HOLDS = "/api/v1/flurfunk/legal_holds"


def present_rule(rule: Rule) -> dict[str, Any]:
    return {"visibility": rule.visibility, "days": rule.days, "updated_at": iso(rule.updated_at)}


def present_hold(hold: Hold) -> dict[str, Any]:
    return {
        "account": hold.target,
        "group": hold.target.startswith(legal_holds.GROUP_PREFIX),
        "account_id": str(hold.account_id),
        "reason": hold.reason,
        "operator": hold.operator,
        "created_at": iso(hold.created_at),
    }


async def compliance_officer(c: Call) -> Operator:
    who = await operator(c)
    try:
        require(who, "manage_compliance")
    except AdminError as exc:
        raise ApiError(exc.status, str(exc)) from None
    return who


def _days(c: Call) -> int:
    raw = c.params.raw("days")
    if raw is None or raw == "":
        raise validation("days is missing")
    if isinstance(raw, bool):
        raise validation("days must be a whole number of days (0 or more)")
    if isinstance(raw, int):
        return raw
    text = str(raw).strip()
    if not text.lstrip("-").isdigit() or len(text) > 9:
        raise validation("days must be a whole number of days (0 or more)")
    return int(text)


async def list_rules(request: Request) -> Response:
    c = await call(request, "admin:read")
    await compliance_officer(c)
    async with c.node.db.read() as session:
        return ok([present_rule(r) for r in await retention.rules(session)])


async def set_rule(request: Request) -> Response:
    c = await call(request, "admin:write")
    who = await compliance_officer(c)
    days = _days(c)
    visibility = c.params.text("visibility", "all", max_length=16) or "all"
    try:
        async with c.node.db.write() as session:
            rule = await retention.set_rule(session, who, days, visibility)
    except AdminError as exc:
        raise ApiError(exc.status, str(exc)) from None
    return ok(present_rule(rule))


async def clear_rules(request: Request) -> Response:
    c = await call(request, "admin:write")
    who = await compliance_officer(c)
    visibility = c.params.text("visibility", None, max_length=16) or None
    try:
        async with c.node.db.write() as session:
            removed = await retention.clear_rules(session, who, visibility)
    except AdminError as exc:
        raise ApiError(exc.status, str(exc)) from None
    return ok({"removed": removed})


def _target(c: Call) -> str:
    target = c.params.text("account", "", max_length=320) or ""
    group = c.params.text("group", "", max_length=320) or ""
    if target and group:
        raise validation("give account or group, not both")
    return f"{legal_holds.GROUP_PREFIX}{group}" if group else target


async def list_holds(request: Request) -> Response:
    c = await call(request, "admin:read")
    await compliance_officer(c)
    async with c.node.db.read() as session:
        return ok([present_hold(h) for h in await legal_holds.list_holds(session)])


async def add_hold(request: Request) -> Response:
    c = await call(request, "admin:write")
    who = await compliance_officer(c)
    target = _target(c)
    reason = c.params.text("reason", "", max_length=legal_holds.MAX_REASON) or ""
    if not target:
        raise validation("account is missing (NAME, NAME@HOST or group:NAME)")
    try:
        async with c.node.db.write() as session:
            hold = await legal_holds.add_hold(session, c.node.settings, who, target, reason)
    except AdminError as exc:
        raise ApiError(exc.status, str(exc)) from None
    return ok(present_hold(hold))


async def remove_hold(request: Request) -> Response:
    c = await call(request, "admin:write")
    who = await compliance_officer(c)
    target = str(request.path_params.get("account") or _target(c))
    if not target:
        raise validation("account is missing (NAME, NAME@HOST or group:NAME)")
    try:
        async with c.node.db.write() as session:
            hold = await legal_holds.remove_hold(session, c.node.settings, who, target)
    except AdminError as exc:
        raise ApiError(exc.status, str(exc)) from None
    return ok(present_hold(hold))


routes: list[BaseRoute] = [
    Route(RETENTION, list_rules, methods=["GET"]),
    Route(RETENTION, set_rule, methods=["POST", "PUT"]),
    Route(RETENTION, clear_rules, methods=["DELETE"]),
    Route(HOLDS, list_holds, methods=["GET"]),
    Route(HOLDS, add_hold, methods=["POST"]),
    Route(HOLDS, remove_hold, methods=["DELETE"]),
    Route(HOLDS + "/{account}", remove_hold, methods=["DELETE"]),
]
