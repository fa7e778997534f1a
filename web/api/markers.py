"""Read markers: GET and POST /api/v1/markers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from federation import values
from federation.values import InvalidValue
from models.tables import Marker
from outbox.markers import TIMELINES, save_markers
from web.api.base import call, ok
from web.api.errors import validation
from web.api.params import Params
from web.api.serializers import iso


def present(markers: list[Marker]) -> dict[str, Any]:
    return {
        m.timeline: {
            "last_read_id": str(m.last_read_id),
            "version": m.version,
            "updated_at": iso(m.updated_at),
        }
        for m in markers
    }


async def show(request: Request) -> Response:
    """The markers asked for with timeline[]; all of them when none is named."""
    c = await call(request, "read:statuses")
    wanted = [t for t in c.params.strings("timeline") if t in TIMELINES] or list(TIMELINES)
    async with c.node.db.read() as session:
        rows = await session.execute(
            select(Marker).where(Marker.account_id == c.account.id, Marker.timeline.in_(wanted))
        )
        return ok(present(list(rows.scalars())))


def positions(params: Params) -> dict[str, int]:
    found: dict[str, int] = {}
    for timeline in TIMELINES:
        if timeline not in params:
            continue
        value = params.sub(timeline).raw("last_read_id")
        try:
            found[timeline] = values.row_id(value)
        except InvalidValue:
            raise validation(
                f"{timeline}[last_read_id] must be a status or notification id"
            ) from None
    return found


async def update(request: Request) -> Response:
    c = await call(request, "write:statuses")
    moved = positions(c.params)
    if not moved:
        return ok()
    async with c.node.db.write() as session:
        markers = await save_markers(session, c.account.id, moved)
    return ok(present(markers))


routes: list[BaseRoute] = [
    Route("/api/v1/markers", show, methods=["GET"]),
    Route("/api/v1/markers", update, methods=["POST"]),
]
