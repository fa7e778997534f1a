"""A status's conversation: its ancestors and its descendants, as one viewer may see them.

A whole thread shares `thread_id` (the id of its first post), so one indexed query fetches it
and the tree is walked in memory. The walk follows every reply, seen or not, and only then drops
what the viewer may not see: a hidden reply does not hide the visible replies beneath it.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.status import Status
from models.visibility import not_blocked_either_way, visible_to

MAX_THREAD = 4096  # statuses of one thread considered at most
MAX_ANCESTORS = 256


async def _ancestors(
    session: AsyncSession, status: Status, known: dict[int, Status]
) -> list[Status]:
    """Oldest first; a parent outside the thread rows (older data) is fetched on its own."""
    chain: list[Status] = []
    seen = {status.id}
    parent_id = status.in_reply_to_id
    while parent_id is not None and parent_id not in seen and len(chain) < MAX_ANCESTORS:
        parent = known.get(parent_id) or await session.get(Status, parent_id)
        if parent is None:
            break
        seen.add(parent.id)
        chain.append(parent)
        parent_id = parent.in_reply_to_id
    chain.reverse()
    return chain


def _descendants(status: Status, thread: list[Status]) -> list[Status]:
    """Depth first, each reply followed by its own replies, siblings oldest first."""
    children: dict[int, list[Status]] = defaultdict(list)
    for row in thread:  # ordered by id, so siblings come oldest first
        if row.in_reply_to_id is not None:
            children[row.in_reply_to_id].append(row)
    out: list[Status] = []
    seen = {status.id}
    stack = list(reversed(children[status.id]))
    while stack and len(out) < MAX_THREAD:
        row = stack.pop()
        if row.id in seen:
            continue
        seen.add(row.id)
        out.append(row)
        stack.extend(reversed(children[row.id]))
    return out


async def context(
    session: AsyncSession, status: Status, viewer_id: int | None
) -> tuple[list[Status], list[Status]]:
    """(ancestors oldest first, descendants in thread order), both filtered for the viewer."""
    root = status.thread_id or status.id
    thread = list(
        (
            await session.execute(
                select(Status)
                .where(or_(Status.id == root, Status.thread_id == root))
                .order_by(Status.id)
                .limit(MAX_THREAD)
            )
        ).scalars()
    )
    known = {row.id: row for row in thread}
    ancestors = await _ancestors(session, status, known)
    descendants = _descendants(status, thread)
    candidates = [row.id for row in (*ancestors, *descendants)]
    if not candidates:
        return [], []
    visible = set(
        (
            await session.execute(
                select(Status.id).where(
                    Status.id.in_(candidates),
                    visible_to(viewer_id),
                    not_blocked_either_way(viewer_id, Status.account_id.expression),
                )
            )
        ).scalars()
    )
    return (
        [row for row in ancestors if row.id in visible],
        [row for row in descendants if row.id in visible],
    )
