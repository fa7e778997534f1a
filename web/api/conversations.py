"""Direct conversations (Mastodon's /api/v1/conversations): the threads of direct statuses a
reader takes part in, newest first, with who else is in them and whether they are unread.

A conversation's id is its thread's root status id, as in the `conversation` stream event.
What belongs to it is read from the statuses; the reader's own marks (models.conversation)
only say how far it was read and whether it was deleted from the list.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from federation import values
from models.account import Account
from models.conversation import ConversationMark
from models.db import upsert
from models.status import Mention, Status
from web.api import serializers
from web.api.base import Call, call, ok, page_of, paginated
from web.api.errors import not_found
from web.api.hosts import hidden_domains, status_admitted
from web.api.serializers import Links

PAGE = 20
PAGE_MAX = 40
THREAD = func.coalesce(Status.thread_id, Status.id)


def _taking_part(viewer_id: int) -> ColumnElement[bool]:
    """Direct statuses the viewer wrote or is mentioned in."""
    mention = aliased(Mention)  # the page query may join Mention itself
    mentioned = exists(
        select(mention.status_id)
        .where(mention.status_id == Status.id, mention.account_id == viewer_id)
        .correlate(Status)
    )
    return and_(
        Status.visibility == "direct",
        or_(Status.account_id == viewer_id, mentioned),
        or_(Status.held.is_(False), Status.account_id == viewer_id),
    )


async def _threads(
    c: Call, viewer_id: int, thread_ids: Sequence[int] | None = None
) -> list[tuple[int, int]]:
    """(thread id, newest status id) of the viewer's visible conversations, newest first,
    paged by the newest status id; only `thread_ids` if given (hidden ones included then)."""
    mark = ConversationMark
    newest = func.max(Status.id)
    query = (
        select(THREAD.label("thread"), newest.label("newest"))
        .outerjoin(mark, and_(mark.account_id == viewer_id, mark.thread_id == THREAD))
        .where(_taking_part(viewer_id), status_admitted(await hidden_domains(c.node)))
        .group_by(THREAD)
    )
    if thread_ids is not None:
        query = query.where(THREAD.in_(thread_ids)).order_by(newest.desc())
    else:
        query = query.having(newest > func.coalesce(func.max(mark.hidden_up_to), 0))
        page = page_of(c.params, PAGE, PAGE_MAX)
        if page.max_id is not None:
            query = query.having(newest < page.max_id)
        if page.since_id is not None:
            query = query.having(newest > page.since_id)
        if page.min_id is not None:
            query = query.having(newest > page.min_id).order_by(newest.asc())
        else:
            query = query.order_by(newest.desc())
        query = query.limit(page.limit)
    async with c.node.db.read() as session:
        rows = [(int(t), int(n)) for t, n in (await session.execute(query))]
    return sorted(rows, key=lambda row: row[1], reverse=True)


async def present(
    session: AsyncSession,
    links: Links,
    viewer_id: int,
    threads: Sequence[tuple[int, int]],
) -> list[dict[str, Any]]:
    """Mastodon Conversations for (thread id, newest status id) pairs, in the given order."""
    if not threads:
        return []
    ids = [thread for thread, _ in threads]
    thread = THREAD
    in_threads = and_(thread.in_(ids), _taking_part(viewer_id))
    authors = select(thread.label("thread"), Status.account_id.label("who")).where(in_threads)
    mentioned = (
        select(thread.label("thread"), Mention.account_id.label("who"))
        .join(Mention, Mention.status_id == Status.id)
        .where(in_threads)
    )
    others: dict[int, set[int]] = {t: set() for t in ids}
    for t, who in await session.execute(authors.union(mentioned)):
        if who != viewer_id:
            others[int(t)].add(int(who))
    wanted = {who for group in others.values() for who in group} | {viewer_id}
    accounts = {
        a.id: a
        for a in (await session.scalars(select(Account).where(Account.id.in_(wanted)))).all()
    }
    # Unread: someone else wrote after the reader last read it or last wrote in it.
    own = func.max(case((Status.account_id == viewer_id, Status.id), else_=0))
    others_newest = func.max(case((Status.account_id != viewer_id, Status.id), else_=0))
    read_up_to = func.coalesce(func.max(ConversationMark.read_up_to), 0)
    unread_threads = {
        int(t)
        for t, other, mine, read_to in (
            await session.execute(
                select(thread, others_newest, own, read_up_to)
                .outerjoin(
                    ConversationMark,
                    and_(
                        ConversationMark.account_id == viewer_id,
                        ConversationMark.thread_id == thread,
                    ),
                )
                .where(in_threads)
                .group_by(thread)
            )
        )
        if other > max(mine, read_to)
    }
    newest_rows = (
        await session.execute(
            select(*serializers.STATUS_COLUMNS).where(Status.id.in_([n for _, n in threads]))
        )
    ).all()
    rendered = await serializers.statuses(session, links, newest_rows, viewer_id)
    by_id = {int(s["id"]): s for s in rendered}
    out = []
    for t, newest in threads:
        people = sorted(others[t]) or [viewer_id]  # a note to oneself: oneself, as Mastodon
        out.append(
            {
                "id": str(t),
                "unread": t in unread_threads,
                "accounts": [
                    serializers.account(accounts[a], links) for a in people if a in accounts
                ],
                "last_status": by_id.get(newest),
            }
        )
    return out


async def conversations(request: Request) -> Response:
    c = await call(request, "read:statuses")
    threads = await _threads(c, c.account.id)
    async with c.node.db.read() as session:
        items = await present(session, c.node.links(), c.account.id, threads)
    return paginated(c, items, [newest for _, newest in threads])


async def _one(c: Call) -> tuple[int, int]:
    wanted = values.row_ids([str(c.request.path_params["id"])])
    found = await _threads(c, c.account.id, wanted) if wanted else []
    if not found:
        raise not_found()
    return found[0]


async def _mark(c: Call, thread: int, **marks: int) -> None:
    async with c.node.db.write() as session:
        row = {"account_id": c.account.id, "thread_id": thread, "read_up_to": 0, "hidden_up_to": 0}
        insert = upsert(session, ConversationMark).values({**row, **marks})
        await session.execute(
            insert.on_conflict_do_update(
                index_elements=[ConversationMark.account_id, ConversationMark.thread_id],
                set_=marks,
            )
        )


async def read(request: Request) -> Response:
    c = await call(request, "write:conversations")
    thread, newest = await _one(c)
    await _mark(c, thread, read_up_to=newest)
    async with c.node.db.read() as session:
        (conversation,) = await present(session, c.node.links(), c.account.id, [(thread, newest)])
    return ok(conversation)


async def remove(request: Request) -> Response:
    """Deleted from the reader's list (the statuses stay) until a new message arrives."""
    c = await call(request, "write:conversations")
    thread, newest = await _one(c)
    await _mark(c, thread, hidden_up_to=newest, read_up_to=newest)
    return ok({})


routes: list[BaseRoute] = [
    Route("/api/v1/conversations", conversations, methods=["GET"]),
    Route("/api/v1/conversations/{id}", remove, methods=["DELETE"]),
    Route("/api/v1/conversations/{id}/read", read, methods=["POST"]),
]
