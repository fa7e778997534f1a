"""Federating what local users do: which activity goes where (the documents come from
outbox.note_documents; many posts' Deletes at once from outbox.bulk_deletes)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.account import Account
from models.base import utcnow
from models.settings import Settings
from models.status import Status
from outbox import render
from outbox.context import Federation
from outbox.deliveries import (
    enqueue,
    follower_inboxes,
    inbox_of,
    refresh_unsent,
    withdraw_unsent,
)
from outbox.note_documents import NewParts, boost_document, mentioned_accounts, note_document

FEDERATED = ("public", "unlisted", "private", "direct")


async def send(
    session: AsyncSession,
    fed: Federation | None,
    actor: Account,
    activity: dict[str, Any],
    inboxes: Iterable[str | None],
    *,
    status_id: int | None = None,
) -> int:
    """Queue `activity` by a local actor for `inboxes`, in the caller's transaction.

    A no-op for remote actors (their own server federates what they do) and without
    federation. Call `fed.wake_deliveries()` after the transaction commits.
    """
    if fed is None or not actor.is_local:
        return 0
    return await enqueue(
        session,
        fed.allowlist(),
        actor=actor,
        activity=activity,
        inboxes=inboxes,
        status_id=status_id,
    )


async def status_inboxes(
    session: AsyncSession, status: Status, mentioned: list[Account] | None = None
) -> list[str]:
    """Where a local status (and its edits and deletion) goes.

    Remote followers' shared inboxes for public, unlisted and private posts; mentioned remote
    actors' own inboxes. A direct message goes only to the personal inboxes of those it
    mentions — never to a shared inbox, where the receiving node could fan it out.
    `mentioned`: the mentioned accounts when the caller has them.
    """
    if status.visibility == "local":
        return []
    direct = status.visibility == "direct"
    inboxes: list[str | None] = []
    if not direct:
        inboxes += await follower_inboxes(session, status.account_id)
    if mentioned is None:
        mentioned = await mentioned_accounts(session, status.id)
    for account in mentioned:
        if not account.is_local:
            inboxes.append(inbox_of(account, personal=direct))
    return sorted({i for i in inboxes if i})


# --- statuses: Create, Update, Delete, Announce ------------------------------------------


def _inner(activity: dict[str, Any]) -> dict[str, Any]:
    """An activity as the object of another (Undo, Accept): without its own @context."""
    return {k: v for k, v in activity.items() if k != "@context"}


async def remote_accounts(
    session: AsyncSession, account_ids: Iterable[int | None]
) -> list[Account]:
    ids = {i for i in account_ids if i is not None}
    if not ids:
        return []
    rows = await session.execute(
        select(Account).where(Account.id.in_(ids), Account.domain.is_not(None))
    )
    return list(rows.scalars())


async def status_audience(
    session: AsyncSession,
    status: Status,
    *,
    also: Iterable[Account] = (),
    mentioned: list[Account] | None = None,
) -> list[str]:
    """Where a local status, its edits and its deletion go: `status_inboxes`, plus for public
    and unlisted posts the remote author of the parent and remote boosters (as Mastodon), plus
    `also` (accounts mentioned before an edit). Direct messages stay on personal inboxes.
    `mentioned` given: a status just posted, which nobody can have boosted yet."""
    if status.visibility not in FEDERATED:
        return []
    direct = status.visibility == "direct"
    inboxes: list[str | None] = list(await status_inboxes(session, status, mentioned))
    if status.visibility in ("public", "unlisted"):
        boosted: list[int] = []
        if mentioned is None:
            boosters = select(Status.account_id).where(Status.reblog_of_id == status.id)
            boosted = list((await session.execute(boosters)).scalars())
        reached = await remote_accounts(session, [status.in_reply_to_account_id, *boosted])
        inboxes += [inbox_of(a) for a in reached]
    inboxes += [inbox_of(a, personal=direct) for a in also if not a.is_local]
    return sorted({i for i in inboxes if i})


async def create_note(
    session: AsyncSession,
    fed: Federation | None,
    author: Account,
    status: Status,
    *,
    mentioned: list[Account] | None = None,
    new: NewParts | None = None,
) -> None:
    """Create(Note) for a new post; `local` posts never leave the node. `mentioned`: the
    accounts the post mentions, when the caller has them; `new`: all it just stored (posting
    has both, so the Note is built without reading the post back)."""
    if fed is None or not author.is_local or status.visibility not in FEDERATED or status.held:
        return
    if new is not None:
        mentioned = new.mentioned
    if mentioned is not None:
        mentioned = sorted(mentioned, key=lambda a: a.id)
    inboxes = await status_audience(session, status, mentioned=mentioned)
    if not inboxes:
        return  # nobody elsewhere follows or is mentioned: nothing to render
    note = await note_document(
        session, fed.settings, status, author=author, mentioned=mentioned, new=new
    )
    await send(session, fed, author, render.create(note), inboxes, status_id=status.id)


async def update_note(
    session: AsyncSession,
    fed: Federation | None,
    author: Account,
    status: Status,
    previously_mentioned: Iterable[Account] = (),
) -> None:
    """Update(Note) after an edit, also to those an edit stopped mentioning."""
    if fed is None or not author.is_local or status.visibility not in FEDERATED or status.held:
        return
    inboxes = await status_audience(session, status, also=previously_mentioned)
    if not inboxes:
        return
    note = await note_document(session, fed.settings, status)
    await refresh_unsent(session, render.create(note))
    activity = render.update(note, status.edited_at or status.created_at)
    await send(session, fed, author, activity, inboxes, status_id=status.id)


async def card_arrived(
    session: AsyncSession, fed: Federation | None, author: Account, status: Status
) -> None:
    """Update(Note) that carries the link preview fetched after the post went out; its id
    says when, so that it never collides with an edit's Update."""
    if fed is None or not author.is_local or status.visibility not in FEDERATED:
        return
    inboxes = await status_audience(session, status)
    if not inboxes:
        return
    note = await note_document(session, fed.settings, status)
    await refresh_unsent(session, render.create(note))
    activity = render.update(note, utcnow())
    await send(session, fed, author, activity, inboxes, status_id=status.id)


async def delete_note(
    session: AsyncSession, fed: Federation | None, author: Account, status: Status
) -> None:
    """Delete(Tombstone) for a post, Undo(Announce) for a boost; call before rows go."""
    if fed is None or not author.is_local or status.visibility not in FEDERATED or status.held:
        return
    if status.reblog_of_id is not None:
        await undo_announce(session, fed, author, status)
        return
    settings = fed.settings
    mentioned = await mentioned_accounts(session, status.id)
    to, cc = render.addressing(settings, author, status.visibility, mentioned)
    activity = render.delete(
        render.actor_uri(settings, author), render.status_uri(settings, author, status), to, cc
    )
    never_reached = await withdraw_unsent(session, status.id)
    inboxes = [i for i in await status_audience(session, status) if i not in never_reached]
    await send(session, fed, author, activity, inboxes, status_id=status.id)


async def boost_audience(session: AsyncSession, boost: Status) -> list[str]:
    """Remote followers, and the original's remote author unless the boost is followers-only;
    boosts of direct or local posts go nowhere."""
    if boost.visibility not in ("public", "unlisted", "private"):
        return []
    inboxes: list[str | None] = list(await follower_inboxes(session, boost.account_id))
    if boost.visibility != "private":
        original = await session.get(Status, boost.reblog_of_id or 0)
        if original is not None:
            inboxes += [inbox_of(a) for a in await remote_accounts(session, [original.account_id])]
    return sorted({i for i in inboxes if i})


async def announce(
    session: AsyncSession, fed: Federation | None, booster: Account, boost: Status
) -> None:
    if fed is None or not booster.is_local:
        return
    activity = await boost_document(session, fed.settings, boost)
    inboxes = await boost_audience(session, boost)
    await send(session, fed, booster, activity, inboxes, status_id=boost.reblog_of_id)


async def undo_announce(
    session: AsyncSession, fed: Federation | None, booster: Account, boost: Status
) -> None:
    """Undo(Announce) naming the Announce as it was sent; call before the boost row goes."""
    if fed is None or not booster.is_local:
        return
    activity = render.undo(await boost_document(session, fed.settings, boost))
    inboxes = await boost_audience(session, boost)
    await send(session, fed, booster, activity, inboxes, status_id=boost.reblog_of_id)


# --- favourites ----------------------------------------------------------------------------


def like_uri(settings: Settings, actor: Account, favourite_id: int) -> str:
    return f"{render.actor_uri(settings, actor)}#likes/{favourite_id}"


async def _like(
    session: AsyncSession, settings: Settings, actor: Account, status: Status, uri: str
) -> tuple[dict[str, Any], Account | None]:
    author = await session.get(Account, status.account_id)
    assert author is not None
    activity = render.simple(
        "Like",
        uri,
        render.actor_uri(settings, actor),
        render.status_uri(settings, author, status),
    )
    return activity, None if author.is_local else author


async def like(
    session: AsyncSession, fed: Federation | None, actor: Account, status: Status, uri: str
) -> None:
    """Like to the remote author of `status`; `uri` is the Favourite row's."""
    if fed is None or not actor.is_local:
        return
    activity, remote_author = await _like(session, fed.settings, actor, status, uri)
    if remote_author is not None:
        await send(session, fed, actor, activity, [inbox_of(remote_author, personal=True)])


async def undo_like(
    session: AsyncSession, fed: Federation | None, actor: Account, status: Status, uri: str
) -> None:
    """Undo(Like) carrying the Like with the id it was sent with."""
    if fed is None or not actor.is_local:
        return
    activity, remote_author = await _like(session, fed.settings, actor, status, uri)
    if remote_author is not None:
        inboxes = [inbox_of(remote_author, personal=True)]
        await send(session, fed, actor, render.undo(activity), inboxes)


# --- many deletions at once (the retention sweep) ------------------------------------------
