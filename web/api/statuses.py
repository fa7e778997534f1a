"""Statuses: post, read, edit, delete, and a status's thread, history and source.

The interactions (/favourite, /reblog, …) live in web.api.status_actions; their routes join
these below.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from federation import values
from federation.values import InvalidValue
from models.status import VISIBILITIES, MediaAttachment, Status, StatusEdit
from models.thread import context as thread_context
from models.visibility import visible_to
from outbox import media, scheduled
from outbox.polls import PollDraft, PollProblem, poll_draft
from outbox.status_edits import Edit, edit_status
from outbox.status_parts import load_visible
from outbox.statuses import Draft, Posted, delete_status, earlier_post, post
from web.api import filtering, serializers, status_actions
from web.api.base import Call, call, ok
from web.api.errors import forbidden, not_found, validation
from web.api.federating import federation, wake_deliveries
from web.api.hosts import hidden_domains, status_admitted
from web.api.params import Params, parse_id
from web.api.policy_gate import policy_gated
from web.api.polls import parse_time, present_scheduled
from web.api.resolve import mention_resolver
from web.api.serializers.entities import TagRef
from web.api.serializers.page_facts import JustWritten
from web.api.status_actions import status_errors

MAX_IDS = 40  # statuses fetched at once by GET /api/v1/statuses?id[]=
MAX_KEY = 255


def _poll(params: Params) -> PollDraft | None:
    if params.raw("poll") in (None, "", {}, []):
        return None
    poll = params.sub("poll")
    try:
        return poll_draft(
            poll.strings("options"),
            poll.number("expires_in"),
            poll.flag("multiple"),
            poll.flag("hide_totals"),
        )
    except PollProblem as exc:
        raise validation(str(exc)) from None


def _media_ids(params: Params) -> tuple[int, ...]:
    ids = []
    for item in params.strings("media_ids"):
        try:
            ids.append(values.row_id(item))
        except InvalidValue:
            raise validation(f"Media attachment not found: {item}") from None
    return tuple(ids)


def _visibility(params: Params) -> str | None:
    visibility = params.text("visibility") or None
    if visibility is not None and visibility not in VISIBILITIES:
        raise validation(f"Visibility must be one of {', '.join(VISIBILITIES)}")
    return visibility


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key", "").strip()
    if not key:
        return None
    if len(key) > MAX_KEY:
        return hashlib.sha256(key.encode()).hexdigest()
    return key


def _sensitive(params: Params) -> bool | None:
    return params.flag("sensitive") if params.raw("sensitive") not in (None, "") else None


@policy_gated
async def create(request: Request) -> Response:
    c = await call(request, "write:statuses")
    p = c.params
    key = _idempotency_key(request)
    draft = Draft(
        text=p.text("status", "") or "",
        content_type=p.text("content_type") or None,
        spoiler_text=p.text("spoiler_text", "") or "",
        sensitive=_sensitive(p),
        visibility=_visibility(p),
        language=p.text("language") or None,
        media_ids=_media_ids(p),
        in_reply_to_id=p.id("in_reply_to_id"),
        application_id=c.caller.token.app_id if c.caller else None,
        idempotency_key=key,
        poll=_poll(p),
    )
    settings = c.node.settings
    if p.text("scheduled_at"):
        return await _schedule(c, draft, parse_time(p.text("scheduled_at")))
    resolver = await mention_resolver(c.node, [draft.text, draft.spoiler_text])
    try:
        async with c.node.db.write() as session:
            with status_errors():
                posted = await post(
                    session,
                    settings,
                    c.account,
                    draft,
                    resolver=resolver,
                    fed=federation(c),
                    user=c.caller.user if c.caller else None,
                )
            data = await serializers.status(
                session, c.node.links(), posted.status, c.viewer_id, written=_written(posted)
            )
        wake_deliveries(c)
    except IntegrityError:
        # Two requests with one Idempotency-Key raced (PostgreSQL): the first one won.
        if key is None:
            raise
        async with c.node.db.read() as session:
            earlier = await earlier_post(session, c.account.id, key)
            if earlier is None:
                raise
            data = await serializers.status(session, c.node.links(), earlier, c.viewer_id)
    return ok(data)


def _written(posted: Posted) -> JustWritten | None:
    """What a new post carries, for its answer; None for an Idempotency-Key repeat."""
    parts = posted.parts
    if parts is None:
        return None
    return JustWritten(
        media_ids=[m.id for m in parts.media],
        mentions=list(dict.fromkeys(a.id for a in parts.mentioned)),
        tags=[TagRef(t.id, t.name) for t in parts.tags],
        poll_id=parts.poll.id if parts.poll is not None else None,
    )


async def _schedule(c: Call, draft: Draft, at: datetime) -> Response:
    """Keep the status for later (POST /api/v1/statuses with scheduled_at)."""
    try:
        async with c.node.db.write() as session:
            row = await scheduled.schedule(session, c.account, at, draft)
            return ok(await present_scheduled(session, c.node.links(), row))
    except scheduled.ScheduleProblem as exc:
        raise validation(str(exc)) from None


async def readable_status(c: Call, session: AsyncSession, status_id: int) -> Status:
    """A status the caller may see, from a host that is still allowed; else 404."""
    with status_errors():
        status = await load_visible(session, c.viewer_id, status_id)
    hidden = await hidden_domains(c.node)
    if hidden:
        query = select(Status.id).where(Status.id == status.id, status_admitted(hidden))
        if (await session.execute(query)).first() is None:
            raise not_found()
    return status


async def show(request: Request) -> Response:
    c = await call(request, "read:statuses", optional=True)
    status_id = parse_id(request.path_params["id"])
    async with c.node.db.read() as session:
        status = await readable_status(c, session, status_id)
        return ok(await serializers.status(session, c.node.links(), status, c.viewer_id))


async def several(request: Request) -> Response:
    c = await call(request, "read:statuses", optional=True)
    wanted = values.row_ids(c.params.strings("id"))[:MAX_IDS]
    if not wanted:
        return ok([])
    hidden = await hidden_domains(c.node)
    async with c.node.db.read() as session:
        rows = await session.execute(
            select(Status).where(
                Status.id.in_(wanted), visible_to(c.viewer_id), status_admitted(hidden)
            )
        )
        found = {s.id: s for s in rows.scalars()}
        ordered = [found[i] for i in wanted if i in found]
        return ok(await serializers.statuses(session, c.node.links(), ordered, c.viewer_id))


async def remove(request: Request) -> Response:
    c = await call(request, "write:statuses")
    status_id = parse_id(request.path_params["id"])
    async with c.node.db.write() as session:
        status = await session.get(Status, status_id)
        if status is None or status.account_id != c.account.id:
            raise not_found()
        # Presented before it goes: the answer carries `text` for delete-and-redraft.
        data = await serializers.status(session, c.node.links(), status, c.viewer_id)
        with status_errors():
            await delete_status(session, c.account, status_id, fed=federation(c))
        files: list[str] = []
        if c.params.flag("delete_media"):  # else kept a day for a redraft, as Mastodon
            media_ids = [int(m["id"]) for m in data.get("media_attachments") or []]
            files = await media.discard(session, c.account.id, media_ids)
    media.remove_files(c.node.settings, files)
    wake_deliveries(c)
    return ok(data)


@policy_gated
async def update(request: Request) -> Response:
    c = await call(request, "write:statuses")
    status_id = parse_id(request.path_params["id"])
    p = c.params
    if p.raw("poll") not in (None, "", {}, []):
        raise validation("a poll cannot be changed by an edit")
    change = Edit(
        text=p.text("status"),
        content_type=p.text("content_type") or None,
        spoiler_text=p.text("spoiler_text"),
        sensitive=_sensitive(p),
        language=p.text("language"),
        media_ids=_media_ids(p) if "media_ids" in p else None,
    )
    settings = c.node.settings
    resolver = await mention_resolver(c.node, [change.text or "", change.spoiler_text or ""])
    async with c.node.db.write() as session:
        with status_errors():
            status = await edit_status(
                session,
                settings,
                c.account,
                status_id,
                change,
                resolver=resolver,
                fed=federation(c),
            )
        data = await serializers.status(session, c.node.links(), status, c.viewer_id)
    wake_deliveries(c)
    return ok(data)


async def history(request: Request) -> Response:
    c = await call(request, "read:statuses", optional=True)
    status_id = parse_id(request.path_params["id"])
    async with c.node.db.read() as session:
        status = await readable_status(c, session, status_id)
        revisions = list(
            (
                await session.execute(
                    select(StatusEdit)
                    .where(StatusEdit.status_id == status.id)
                    .order_by(StatusEdit.id)
                )
            ).scalars()
        )
        if not revisions:  # never edited: the one revision is the status itself
            media_ids = (
                await session.execute(
                    select(MediaAttachment.id)
                    .where(MediaAttachment.status_id == status.id)
                    .order_by(MediaAttachment.id)
                )
            ).scalars()
            revisions = [
                StatusEdit(
                    status_id=status.id,
                    content=status.content,
                    spoiler_text=status.spoiler_text,
                    sensitive=status.sensitive,
                    media_ids=list(media_ids),
                    created_at=status.edited_at or status.created_at,
                )
            ]
        return ok(
            await serializers.status_history(
                session, c.node.links(), status, revisions, c.viewer_id
            )
        )


async def source(request: Request) -> Response:
    c = await call(request, "read:statuses")
    status_id = parse_id(request.path_params["id"])
    async with c.node.db.read() as session:
        with status_errors():
            status = await load_visible(session, c.viewer_id, status_id)
    if status.account_id != c.account.id:
        raise forbidden()
    return ok(serializers.status_source(status))


async def context(request: Request) -> Response:
    c = await call(request, "read:statuses", optional=True)
    status_id = parse_id(request.path_params["id"])
    async with c.node.db.read() as session:
        status = await readable_status(c, session, status_id)
        if status.reblog_of_id is not None:
            status = await readable_status(c, session, status.reblog_of_id)
        ancestors, descendants = await thread_context(session, status, c.viewer_id)
        hidden = await hidden_domains(c.node)
        if hidden:
            ancestors, descendants = await _admitted_only(session, hidden, ancestors, descendants)
        presented = await serializers.statuses(
            session, c.node.links(), [*ancestors, *descendants], c.viewer_id
        )
    return ok(await filtering.thread(c, presented[: len(ancestors)], presented[len(ancestors) :]))


async def _admitted_only(
    session: AsyncSession, hidden: frozenset[str], *groups: list[Status]
) -> tuple[list[Status], ...]:
    ids = [s.id for group in groups for s in group]
    admitted = set(
        (
            await session.execute(
                select(Status.id).where(Status.id.in_(ids), status_admitted(hidden))
            )
        ).scalars()
    )
    return tuple([s for s in group if s.id in admitted] for group in groups)


routes: list[BaseRoute] = [
    Route("/api/v1/statuses", create, methods=["POST"]),
    Route("/api/v1/statuses", several, methods=["GET"]),
    Route("/api/v1/statuses/{id}", show, methods=["GET"]),
    Route("/api/v1/statuses/{id}", update, methods=["PUT"]),
    Route("/api/v1/statuses/{id}", remove, methods=["DELETE"]),
    Route("/api/v1/statuses/{id}/context", context, methods=["GET"]),
    Route("/api/v1/statuses/{id}/history", history, methods=["GET"]),
    Route("/api/v1/statuses/{id}/source", source, methods=["GET"]),
    *status_actions.routes,
]
