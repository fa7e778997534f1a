"""A status's `update` and `status.update` rendered once for all its listeners in this process.

One post reaches every follower's home channel at once; rendered per listener, each of them
read the status, its account, media, tags and the viewer's marks on its own, so 33 listeners
meant some 200 statements. Here the listeners woken by the same publish join one batch (the
batch closes before anything is read, so each read is at least as fresh as the message that
asked for it), and one session then reads:

- the status and what every viewer sees alike (page_facts.load without a viewer: its
  account, media, mentions, tags, poll, card, application), once;
- which of the viewers the timeline behind their channel admits — for home channels one
  statement with the home timeline's own conditions, correlated per feed entry; for the
  other channels (public, hashtag, list, direct) the per-viewer query of web.streams;
- what differs per viewer — favourited, boosted, bookmarked, pinned, muted thread, poll
  votes — for all viewers at once (page_facts.for_viewers), and who has filters in force;
  only those have theirs loaded and applied.

Each viewer's entity is then presented from those facts by the same presenter the API uses,
so it carries that viewer's own flags and signed media URLs, never another's; a viewer who is
not admitted gets nothing, whatever channel brought the message.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import BigInteger, ColumnElement, Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import UTCDateTime
from models.filters import Filter, in_force
from models.status import Status
from models.timeline import FeedEntry
from web.api import filtering
from web.api.hosts import hidden_domains, status_admitted
from web.api.serializers import STATUS_COLUMNS
from web.api.serializers.page_facts import for_viewers, load
from web.api.serializers.statuses import presented
from web.api.timelines import home_query

if TYPE_CHECKING:
    from web.node import Node
    from web.streams import Viewer

EVENTS = frozenset(("update", "status.update"))
# Listeners woken by one publish run within a loop iteration or two (each first finishes
# taking the message off its queue): the batch waits that long before it closes.
_GATHER_ROUNDS = 3

Answer = tuple[str, str] | None


@dataclass
class _Batch:
    node: Node
    event: str
    status_id: int
    asked: list[tuple[Viewer, str, asyncio.Future[Answer]]] = field(default_factory=list)


_open: dict[tuple[int, str, int], _Batch] = {}
_running: set[asyncio.Task[None]] = set()


async def render(node: Node, viewer: Viewer, channel: str, event: str, status_id: int) -> Answer:
    """(event, data) of a status event for one listener, or None when it is not to see it."""
    key = (id(node), event, status_id)
    batch = _open.get(key)
    if batch is None or batch.node is not node:
        batch = _open[key] = _Batch(node, event, status_id)
        task = asyncio.create_task(_run(key, batch))
        _running.add(task)
        task.add_done_callback(_running.discard)
    answer: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
    batch.asked.append((viewer, channel, answer))
    return await answer


async def _run(key: tuple[int, str, int], batch: _Batch) -> None:
    for _ in range(_GATHER_ROUNDS):
        await asyncio.sleep(0)
    if _open.get(key) is batch:
        del _open[key]
    try:
        answers = await _answers(batch)
        for (_, _, future), answer in zip(batch.asked, answers, strict=True):
            if not future.done():
                future.set_result(answer)
    except Exception as exc:  # each listener handles it as its own render's failure
        for _, _, future in batch.asked:
            if not future.done():
                future.set_exception(exc)
    finally:
        for _, _, future in batch.asked:
            if not future.done():
                future.cancel()  # the batch itself was cancelled (the process stops)


@functools.cache
def _home_statement() -> Select[Any]:
    """Which of the `viewers` have the status in their home timeline, by its own conditions
    (blocks, mutes, blocked nodes, exclusive lists) evaluated for each feed entry's owner."""
    owner: ColumnElement[int] = FeedEntry.__table__.c.account_id
    query = home_query(owner, bindparam("now", type_=UTCDateTime))
    return query.with_only_columns(FeedEntry.account_id).where(
        FeedEntry.status_id == bindparam("status", type_=BigInteger),
        FeedEntry.account_id.in_(bindparam("viewers", expanding=True)),
    )


async def _answers(batch: _Batch) -> list[Answer]:
    from web import streams  # web.streams routes status events here

    node = batch.node
    hidden = await hidden_domains(node)
    admitted: list[bool] = []  # per request: whether the viewer may see it on that channel
    async with node.db.read() as session:
        row = (
            await session.execute(
                select(*STATUS_COLUMNS)
                .where(Status.id == batch.status_id)
                .where(status_admitted(hidden))
            )
        ).first()
        if row is None:
            return [None] * len(batch.asked)
        homes = {v.account_id for v, channel, _ in batch.asked if _at_home(v, channel)}
        at_home: set[int | None] = set()
        if homes:
            found = await session.execute(
                _home_statement().where(status_admitted(hidden)),
                {"now": datetime.now(UTC), "status": row.id, "viewers": list(homes)},
            )
            at_home = set(found.scalars())
        for viewer, channel, _ in batch.asked:
            if _at_home(viewer, channel):
                admitted.append(viewer.account_id in at_home)
            else:
                status = await streams.admitted_status(
                    session, channel, viewer.account_id, row.id, hidden
                )
                admitted.append(status is not None)
        return await _present(session, node, batch, row, admitted)


def _at_home(viewer: Viewer, channel: str) -> bool:
    return viewer.account_id is not None and channel == f"home:{viewer.account_id}"


async def _present(
    session: AsyncSession, node: Node, batch: _Batch, row: Any, admitted: list[bool]
) -> list[Answer]:
    if not any(admitted):
        return [None] * len(batch.asked)
    viewers = {
        viewer.account_id
        for (viewer, _, _), seen in zip(batch.asked, admitted, strict=True)
        if seen and viewer.account_id is not None
    }
    shared = await load(session, [row], None, every_app=True)
    facts = await for_viewers(session, [row], shared, viewers)
    filtered = await _with_filters(session, viewers)
    links = node.links()
    out: list[Answer] = []
    for (viewer, channel, _), seen in zip(batch.asked, admitted, strict=True):
        viewer_id = viewer.account_id
        payload: dict[str, Any] | None = None
        if seen and viewer_id is None:
            payload = presented(links, [row], shared, None)[0]
        elif seen and viewer_id is not None:
            payload = presented(links, [row], facts[viewer_id], viewer_id)[0]
            if viewer_id in filtered:
                payload = await filtering.streamed(
                    session, viewer_id, channel, batch.event, payload
                )
        out.append(None if payload is None else (batch.event, orjson.dumps(payload).decode()))
    return out


async def _with_filters(session: AsyncSession, viewers: set[int]) -> set[int]:
    """The viewers who have some filter in force (in any context)."""
    if not viewers:
        return set()
    found = await session.execute(
        select(Filter.account_id)
        .where(Filter.account_id.in_(viewers), in_force(datetime.now(UTC)))
        .distinct()
    )
    return set(found.scalars())
