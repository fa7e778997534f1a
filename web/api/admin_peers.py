"""The admin page's peer health and delivery retry for scripts (there is no Mastodon
equivalent): `GET /api/v1/admin/peers` (scope admin:read; `manage_allowlist`, `manage_node`
or `view_audit_log`) and `POST /api/v1/admin/deliveries/ID/retry` (scope admin:write,
`manage_node`). The same queries and the same action as /admin/federation, so the numbers
and the audit entry are the same."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from federation import values
from federation.values import InvalidValue
from models.base import utcnow
from outbox import delivery_admin
from outbox.permissions import MissingPermission, NotPermitted, Operator
from web import delivery_report
from web.api.base import Call, call, ok
from web.api.errors import forbidden, not_found
from web.api.federating import wake_deliveries
from web.api.roles import operator
from web.api.serializers import iso


async def _staff(c: Call) -> Operator:
    """Peer health is for anyone who looks after federation or the node."""
    who = await operator(c)
    if not (who.may("manage_allowlist") or who.may("manage_node") or who.may("view_audit_log")):
        raise forbidden(str(MissingPermission("view_audit_log")))
    return who


def present(peer: delivery_report.PeerHealth) -> dict[str, Any]:
    return {
        "host": peer.host,
        "pending": peer.pending,
        "retrying": peer.retrying,
        "failed": peer.failed,
        "delivered_24h": peer.delivered_today,
        "failed_attempts_24h": peer.failed_today,
        "last_success_at": iso(peer.last_success_at),
        "failing_since": iso(peer.failing_since),
        "available": peer.available,
        "next_probe_at": iso(peer.next_probe_at),
        "next_retry_at": iso(peer.next_retry_at),
        "last_error": peer.last_error,
        "hours": [
            {"hour": iso(h.hour), "delivered": h.delivered, "failed": h.failed} for h in peer.hours
        ],
    }


async def peers(request: Request) -> Response:
    c = await call(request, "admin:read")
    await _staff(c)
    async with c.node.db.read() as session:
        found = await delivery_report.peer_health(session, utcnow())
    return ok([present(p) for p in found])


async def retry(request: Request) -> Response:
    c = await call(request, "admin:write")
    operator = await _staff(c)
    try:
        delivery_id = values.row_id(request.path_params["id"])
    except InvalidValue:
        raise not_found() from None
    try:
        async with c.node.db.write() as session:
            row = await delivery_admin.retry(session, operator, delivery_id)
            answer = None if row is None else {"id": str(row.id), "host": row.host}
    except NotPermitted as exc:
        raise forbidden(str(exc)) from None
    if answer is None:
        raise not_found()
    wake_deliveries(c)
    return ok({**answer, "state": "pending"})


routes: list[BaseRoute] = [
    Route("/api/v1/admin/peers", peers, methods=["GET"]),
    Route("/api/v1/admin/deliveries/{id}/retry", retry, methods=["POST"]),
]
