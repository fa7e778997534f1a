"""Polls: read one, vote in one; and statuses scheduled for later."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from federation import values
from federation.values import InvalidValue
from models.poll import Poll, ScheduledStatus
from models.status import MediaAttachment, Status
from models.visibility import can_see
from outbox import poll_federation, polls, scheduled
from web.api import serializers
from web.api.base import call, ok, page_of, paginated
from web.api.errors import not_found, validation
from web.api.federating import federation, wake_deliveries
from web.api.params import parse_id
from web.api.policy_gate import policy_gated
from web.api.serializers import Links
from web.node import node_of


async def _present_poll(request: Request, poll_id: int, viewer_id: int | None) -> dict[str, Any]:
    async with node_of(request).db.read() as session:
        found = await session.get(Poll, poll_id)
        status = await session.get(Status, found.status_id) if found else None
        if found is None or status is None or not await can_see(session, viewer_id, status):
            raise not_found()
        votes = await polls.own_votes(session, viewer_id, {found.id})
    return serializers.poll(found, votes.get(found.id, []) if viewer_id else None)


async def show_poll(request: Request) -> Response:
    c = await call(request, "read:statuses", optional=True)
    poll_id = parse_id(request.path_params["id"])
    return ok(await _present_poll(request, poll_id, c.viewer_id))


@policy_gated
async def vote(request: Request) -> Response:
    c = await call(request, "write:statuses")
    poll_id = parse_id(request.path_params["id"])
    try:
        choices = [values.integer(x, "choices", minimum=0) for x in c.params.strings("choices")]
    except InvalidValue:
        raise validation("choices must be option numbers") from None
    try:
        async with c.node.db.write() as session:
            poll = await polls.vote(session, c.account, poll_id, choices)
            await poll_federation.votes_cast(session, federation(c), c.account, poll)
    except LookupError:
        raise not_found() from None
    except polls.PollProblem as exc:
        raise validation(str(exc)) from None
    wake_deliveries(c)
    return ok(await _present_poll(request, poll_id, c.viewer_id))


# --- scheduled statuses ----------------------------------------------------------------


async def present_scheduled(session: Any, links: Links, row: ScheduledStatus) -> dict[str, Any]:
    media = (
        (
            await session.execute(
                select(MediaAttachment).where(MediaAttachment.id.in_(row.media_ids))
            )
        )
        .scalars()
        .all()
        if row.media_ids
        else []
    )
    params = dict(row.params)
    return {
        "id": str(row.id),
        "scheduled_at": serializers.iso(row.scheduled_at),
        "params": {
            "text": params.get("text", ""),
            "poll": params.get("poll"),
            "media_ids": [str(i) for i in row.media_ids] or None,
            "sensitive": params.get("sensitive"),
            "spoiler_text": params.get("spoiler_text") or None,
            "visibility": params.get("visibility") or "public",
            "in_reply_to_id": str(params["in_reply_to_id"])
            if params.get("in_reply_to_id")
            else None,
            "language": params.get("language"),
            "application_id": str(row.application_id) if row.application_id else None,
            "scheduled_at": None,
            "idempotency": None,
            "with_rate_limit": False,
        },
        "media_attachments": [serializers.media(m, links) for m in media],
    }


def parse_time(value: str | None) -> datetime:
    if not value:
        raise validation("scheduled_at is required")
    try:
        return values.iso_datetime(value, "scheduled_at", zone_required=True)
    except InvalidValue as exc:
        raise validation(str(exc)) from None


async def list_scheduled(request: Request) -> Response:
    c = await call(request, "read:statuses")
    page = page_of(c.params, 20, 40)
    async with c.node.db.read() as session:
        rows = page.settle(
            (
                await session.execute(
                    page.apply(
                        select(ScheduledStatus).where(ScheduledStatus.account_id == c.account.id),
                        ScheduledStatus.id,
                    )
                )
            )
            .scalars()
            .all()
        )
        items = [await present_scheduled(session, c.node.links(), r) for r in rows]
    return paginated(c, items, [r.id for r in rows])


async def one_scheduled(request: Request) -> Response:
    scope = "read:statuses" if request.method == "GET" else "write:statuses"
    c = await call(request, scope)
    scheduled_id = parse_id(request.path_params["id"])
    try:
        async with c.node.db.write() as session:
            if request.method == "DELETE":
                await scheduled.cancel(session, c.account, scheduled_id)
                return ok({})
            if request.method == "PUT":
                row = await scheduled.reschedule(
                    session, c.account, scheduled_id, parse_time(c.params.text("scheduled_at"))
                )
            else:
                row = await scheduled.find(session, c.account, scheduled_id)
            await session.flush()
            return ok(await present_scheduled(session, c.node.links(), row))
    except LookupError:
        raise not_found() from None
    except scheduled.ScheduleProblem as exc:
        raise validation(str(exc)) from None


routes = [
    Route("/api/v1/polls/{id}", show_poll, methods=["GET"]),
    Route("/api/v1/polls/{id}/votes", vote, methods=["POST"]),
    Route("/api/v1/scheduled_statuses", list_scheduled, methods=["GET"]),
    Route("/api/v1/scheduled_statuses/{id}", one_scheduled, methods=["GET", "PUT", "DELETE"]),
]
