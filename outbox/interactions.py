"""Favourites, boosts, bookmarks and pins: what a local account does to a status.

Every action is idempotent (doing it twice leaves the state of doing it once) and acts on the
boosted status when given a boost. The status row is locked for the transaction, so counters
stay exact when two requests race on PostgreSQL (SQLite serialises writers anyway).

With federation (`fed`), a local account's favourites and boosts of remote posts are queued as
Like / Announce (and their Undo) in the same transaction. The inbox calls the same actions for
remote actors, passing the id of their activity as `uri`; those send nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.account import Account
from models.base import utcnow
from models.db import upsert
from models.ids import new_id
from models.interaction import Bookmark, Favourite, Pin
from models.settings import Settings
from models.status import GROUP_ONLY, Status
from outbox import events, federate, feeds, group_posts
from outbox.context import Federation
from outbox.notify import notify, withdraw
from outbox.status_parts import InvalidStatus, NotPermitted, StatusNotFound, load_visible

MAX_PINS = 5
BOOST_VISIBILITIES = ("public", "unlisted", "private")
MEMBERS_ONLY_BOOST = (
    "This post was posted in a members-only group: it cannot be boosted, "
    "because a boost would show it outside the group"
)

Marker = type[Favourite] | type[Bookmark] | type[Pin]


async def _target(
    session: AsyncSession, actor: Account, status_id: int, *, vouched: bool = False
) -> Status:
    """The status acted on, locked; a boost stands for the status it boosts. `vouched`: a
    group vouches that the (remote) actor is a member who sees its post."""
    if vouched:
        found = await session.get(Status, status_id)
        if found is None:
            raise StatusNotFound()
        return await _locked(session, found.reblog_of_id or found.id)
    status = await load_visible(session, actor.id, status_id)
    original_id = status.reblog_of_id or status.id
    return await load_visible(session, actor.id, original_id, lock=True)


async def _locked(session: AsyncSession, status_id: int) -> Status:
    query = (
        select(Status)
        .where(Status.id == status_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    status = (await session.execute(query)).scalar_one_or_none()
    if status is None:
        raise StatusNotFound()
    return status


async def _mark(
    session: AsyncSession, model: Marker, actor_id: int, status_id: int, **extra: Any
) -> int | None:
    """Insert the (account, status) row unless it exists; the new row's id, or None."""
    statement = (
        upsert(session, model)
        .values(id=new_id(), account_id=actor_id, status_id=status_id, created_at=utcnow(), **extra)
        .on_conflict_do_nothing(index_elements=["account_id", "status_id"])
        .returning(model.id)
    )
    row = (await session.execute(statement)).first()
    return None if row is None else int(row[0])


async def _unmark(session: AsyncSession, model: Marker, actor_id: int, status_id: int) -> bool:
    statement = (
        delete(model)
        .where(model.account_id == actor_id, model.status_id == status_id)
        .returning(model.id)
    )
    return (await session.execute(statement)).first() is not None


async def _count(session: AsyncSession, status: Status, column: str, delta: int) -> None:
    current = getattr(Status, column)
    condition: list[Any] = [Status.id == status.id]
    if delta < 0:
        condition.append(current > 0)
    await session.execute(
        update(Status)
        .where(*condition)
        .values({column: current + delta})
        .execution_options(synchronize_session=False)
    )
    await session.refresh(status, [column])


async def _author(session: AsyncSession, status: Status) -> Account | None:
    return await session.get(Account, status.account_id)


async def _undo_target(session: AsyncSession, actor: Account, status_id: int) -> Status:
    """For undoing: the status (or the one it boosts), even if it became invisible."""
    status = await session.get(Status, status_id)
    if status is None:
        raise StatusNotFound()
    if status.reblog_of_id is not None:
        original = await session.get(Status, status.reblog_of_id)
        if original is None:
            raise StatusNotFound()
        status = original
    return status


async def favourite(
    session: AsyncSession,
    actor: Account,
    status_id: int,
    *,
    fed: Federation | None = None,
    uri: str | None = None,
    vouched: bool = False,
) -> Status:
    """Favourite a status; a remote author hears a Like whose id the row keeps (`uri`). A post
    in a group is liked through the group. `vouched`: a group relayed a member's Like."""
    status = await _target(session, actor, status_id, vouched=vouched)
    favourite_id = await _mark(session, Favourite, actor.id, status.id, uri=uri)
    if favourite_id is None:
        return status
    await _count(session, status, "favourites_count", +1)
    author = await _author(session, status)
    if author is not None:
        await notify(
            session, recipient=author, actor_id=actor.id, type="favourite", status_id=status.id
        )
    if fed is not None and actor.is_local:
        like_uri = federate.like_uri(fed.settings, actor, favourite_id)
        await session.execute(
            update(Favourite)
            .where(Favourite.id == favourite_id)
            .values(uri=like_uri)
            .execution_options(synchronize_session=False)
        )
        if status.audience_id is not None:
            await group_posts.like(session, fed, actor, status, like_uri)
        else:
            await federate.like(session, fed, actor, status, like_uri)
    return status


async def unfavourite(
    session: AsyncSession, actor: Account, status_id: int, *, fed: Federation | None = None
) -> Status:
    status = await _undo_target(session, actor, status_id)
    gone = (
        await session.execute(
            delete(Favourite)
            .where(Favourite.account_id == actor.id, Favourite.status_id == status.id)
            .returning(Favourite.id, Favourite.uri)
        )
    ).first()
    if gone is None:
        return await load_visible(session, actor.id, status.id)
    await _count(session, status, "favourites_count", -1)
    await withdraw(session, actor_id=actor.id, type="favourite", status_id=status.id)
    if fed is not None:
        like_uri = gone[1] or federate.like_uri(fed.settings, actor, int(gone[0]))
        if status.audience_id is not None:
            await group_posts.like(session, fed, actor, status, like_uri, undo=True)
        else:
            await federate.undo_like(session, fed, actor, status, like_uri)
    return status


async def bookmark(session: AsyncSession, actor: Account, status_id: int) -> Status:
    status = await _target(session, actor, status_id)
    await _mark(session, Bookmark, actor.id, status.id)
    return status


async def unbookmark(session: AsyncSession, actor: Account, status_id: int) -> Status:
    status = await _undo_target(session, actor, status_id)
    if not await _unmark(session, Bookmark, actor.id, status.id):
        await load_visible(session, actor.id, status.id)
    return status


async def pin(session: AsyncSession, actor: Account, status_id: int) -> Status:
    status = await load_visible(session, actor.id, status_id, lock=True)
    if status.reblog_of_id is not None:
        raise InvalidStatus("A boost cannot be pinned")
    if status.account_id != actor.id:
        raise InvalidStatus("Post that does not belong to you cannot be pinned")
    if status.visibility == "direct":
        raise InvalidStatus("Posts that are only visible to mentioned users cannot be pinned")
    pinned = await session.scalar(
        select(func.count()).select_from(Pin).where(Pin.account_id == actor.id)
    )
    already = await session.scalar(
        select(Pin.id).where(Pin.account_id == actor.id, Pin.status_id == status.id)
    )
    if already is None and (pinned or 0) >= MAX_PINS:
        raise InvalidStatus("You have already pinned the maximum number of posts")
    await _mark(session, Pin, actor.id, status.id)
    return status


async def unpin(session: AsyncSession, actor: Account, status_id: int) -> Status:
    status = await load_visible(session, actor.id, status_id)
    await _unmark(session, Pin, actor.id, status.id)
    return status


async def existing_boost(session: AsyncSession, actor_id: int, original_id: int) -> Status | None:
    return (
        (
            await session.execute(
                select(Status)
                .where(Status.account_id == actor_id, Status.reblog_of_id == original_id)
                .order_by(Status.id)
                .limit(1)
            )
        )
        .scalars()
        .first()
    )


async def reblog(
    session: AsyncSession,
    settings: Settings,
    actor: Account,
    status_id: int,
    visibility: str | None = None,
    *,
    fed: Federation | None = None,
    uri: str | None = None,
) -> Status:
    """Boost a status; returns the boost (the existing one if boosted before).

    A local boost is announced to remote followers and the original's remote author; for a
    remote booster `uri` is their Announce's id, which the boost row keeps.
    """
    if visibility is not None and visibility not in BOOST_VISIBILITIES:
        raise InvalidStatus(f"visibility must be one of {', '.join(BOOST_VISIBILITIES)}")
    original = await _target(session, actor, status_id)
    if original.visibility == GROUP_ONLY:
        # The group already shows it to every member; a boost could only show it to others.
        raise InvalidStatus(MEMBERS_ONLY_BOOST)
    if original.visibility == "direct" or (
        original.visibility == "private" and original.account_id != actor.id
    ):
        raise NotPermitted()
    if original.held:
        # Held by a compliance watch term: a boost would show it to the booster's followers.
        raise NotPermitted()
    earlier = await existing_boost(session, actor.id, original.id)
    if earlier is not None:
        return earlier
    if original.visibility in ("private", "local"):
        visibility = original.visibility  # a boost never widens the audience
    boost = Status(
        account_id=actor.id,
        local=actor.is_local,
        reblog_of_id=original.id,
        visibility=visibility or "public",
        content="",
        text="",
        uri=None if actor.is_local else uri,
        url=None if actor.is_local else uri,
    )
    session.add(boost)
    await session.flush()
    if actor.is_local:
        boost.uri = settings.url(f"/users/{actor.username}/statuses/{boost.id}/activity")
        boost.url = boost.uri
    await session.execute(
        update(Account)
        .where(Account.id == actor.id)
        .values(statuses_count=Account.statuses_count + 1, last_status_at=utcnow().date())
        .execution_options(synchronize_session=False)
    )
    await _count(session, original, "reblogs_count", +1)
    author = await _author(session, original)
    if author is not None:
        await notify(
            session, recipient=author, actor_id=actor.id, type="reblog", status_id=original.id
        )
    await feeds.fan_out(session, boost)
    await federate.announce(session, fed, actor, boost)
    return boost


async def unreblog(
    session: AsyncSession, actor: Account, status_id: int, *, fed: Federation | None = None
) -> Status:
    """Withdraw one's boost; returns the boosted status."""
    original = await _undo_target(session, actor, status_id)
    mine = (Status.account_id == actor.id, Status.reblog_of_id == original.id)
    for boost in (await session.execute(select(Status).where(*mine))).scalars().all():
        await federate.undo_announce(session, fed, actor, boost)
        await events.removing(session, boost)
    boosts = (await session.execute(delete(Status).where(*mine).returning(Status.id))).all()
    if not boosts:
        return await load_visible(session, actor.id, original.id)
    await session.execute(
        update(Account)
        .where(Account.id == actor.id, Account.statuses_count >= len(boosts))
        .values(statuses_count=Account.statuses_count - len(boosts))
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(Status)
        .where(Status.id == original.id)
        .values(
            reblogs_count=case(
                (Status.reblogs_count > len(boosts), Status.reblogs_count - len(boosts)),
                else_=0,
            )
        )
        .execution_options(synchronize_session=False)
    )
    await session.refresh(original, ["reblogs_count"])
    await withdraw(session, actor_id=actor.id, type="reblog", status_id=original.id)
    return original
