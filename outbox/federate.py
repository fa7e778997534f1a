"""Federating what local users do: documents assembled from rows, and where they go."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.account import Account
from models.base import utcnow
from models.poll import Poll
from models.preview_card import PreviewCard
from models.relationship import Follow
from models.settings import Settings
from models.status import GROUP_ONLY, MediaAttachment, Mention, Status, StatusTag, Tag
from outbox import emoji_use, render
from outbox.context import Federation
from outbox.deliveries import (
    enqueue,
    follower_inboxes,
    inbox_of,
    refresh_unsent,
    withdraw_unsent,
)

FEDERATED = ("public", "unlisted", "private", "direct")


async def mentioned_accounts(session: AsyncSession, status_id: int) -> list[Account]:
    rows = await session.execute(
        select(Account)
        .join(Mention, Mention.account_id == Account.id)
        .where(Mention.status_id == status_id)
        .order_by(Account.id)
    )
    return list(rows.scalars())


@dataclass(frozen=True)
class NewParts:
    """What a post just stored besides its row, so that its Note needs no reading back."""

    mentioned: list[Account]  # ordered by id
    tags: list[Tag]  # ordered by name
    media: list[MediaAttachment]  # ordered by id
    poll: Poll | None


async def note_document(
    session: AsyncSession,
    settings: Settings,
    status: Status,
    *,
    author: Account | None = None,
    mentioned: list[Account] | None = None,
    new: NewParts | None = None,
) -> dict[str, Any]:
    """The Note for a (non-boost) status, with its addressing, tags and attachments.

    `author` and `mentioned` (ordered by id), when the caller has them, spare reading them
    again; with `mentioned` given the status is taken as just posted, without a link preview
    yet (it is fetched after the post, and then sent as an Update). `new`: everything a post
    just stored, so that nothing of it is read back."""
    if new is not None and mentioned is None:
        mentioned = new.mentioned
    if author is None or author.id != status.account_id:
        author = await session.get(Account, status.account_id)
    assert author is not None
    parent_uri = None
    if status.in_reply_to_id is not None:
        parent = await session.get(Status, status.in_reply_to_id)
        if parent is not None:
            parent_author = await session.get(Account, parent.account_id)
            if parent_author is not None:
                parent_uri = render.status_uri(settings, parent_author, parent)
    if new is not None:
        tags, media, poll = new.tags, new.media, new.poll
    else:
        tags = list(
            (
                await session.execute(
                    select(Tag)
                    .join(StatusTag, StatusTag.tag_id == Tag.id)
                    .where(StatusTag.status_id == status.id)
                    .order_by(Tag.name)
                )
            ).scalars()
        )
        media = list(
            (
                await session.execute(
                    select(MediaAttachment)
                    .where(MediaAttachment.status_id == status.id)
                    .order_by(MediaAttachment.id)
                )
            ).scalars()
        )
        poll = await session.scalar(select(Poll).where(Poll.status_id == status.id))
    card = None
    if mentioned is None:
        card = await session.scalar(
            select(PreviewCard).where(
                PreviewCard.status_id == status.id, PreviewCard.fetched_at.is_not(None)
            )
        )
    document = render.note(
        settings,
        author,
        status,
        parent_uri=parent_uri,
        mentioned=mentioned
        if mentioned is not None
        else await mentioned_accounts(session, status.id),
        tags=tags,
        media=media,
        poll=poll,
        emojis=await emoji_use.of_status(session, status, poll),
        card=card,
    )
    group = await session.get(Account, status.audience_id) if status.audience_id else None
    if group is not None:  # FEP-1b12: the group it is posted in
        group_uri = render.actor_uri(settings, group)
        document["audience"] = group_uri
        if status.visibility == GROUP_ONLY:
            document["to"] = [group.followers_url or group_uri + "/followers"]
            document["cc"] = [group_uri]
    return document


async def boost_document(
    session: AsyncSession, settings: Settings, boost: Status
) -> dict[str, Any]:
    """The Announce for a boost."""
    booster = await session.get(Account, boost.account_id)
    original = await session.get(Status, boost.reblog_of_id or 0)
    assert booster is not None
    assert original is not None
    original_author = await session.get(Account, original.account_id)
    assert original_author is not None
    to, cc = render.addressing(settings, booster, boost.visibility, [original_author])
    uri = render.status_uri(settings, booster, boost)
    # A local boost's uri is its Announce's id already (as on Mastodon); older rows lack it.
    if boost.local and not uri.endswith("/activity"):
        uri += "/activity"
    return render.announce(
        uri,
        render.actor_uri(settings, booster),
        render.status_uri(settings, original_author, original),
        boost.created_at,
        to,
        cc,
    )


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


async def _remote(session: AsyncSession, account_ids: Iterable[int | None]) -> list[Account]:
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
        reached = await _remote(session, [status.in_reply_to_account_id, *boosted])
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
            inboxes += [inbox_of(a) for a in await _remote(session, [original.account_id])]
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


async def delete_notes(
    session: AsyncSession,
    fed: Federation | None,
    authors: dict[int, Account],
    statuses: Iterable[Status],
) -> None:
    """`delete_note` for many local posts (not boosts, not group posts) in one transaction:
    the same Delete to the same inboxes, one activity per post, but mentions, boosters and
    followers are read once for all of them instead of once per post."""
    if fed is None:
        return
    chosen = [
        s
        for s in statuses
        if s.visibility in FEDERATED
        and not s.held
        and s.reblog_of_id is None
        and authors[s.account_id].is_local
    ]
    if not chosen:
        return
    ids = [s.id for s in chosen]
    mentioned: dict[int, list[Account]] = {i: [] for i in ids}
    rows = await session.execute(
        select(Mention.status_id, Account)
        .join(Account, Account.id == Mention.account_id)
        .where(Mention.status_id.in_(ids))
        .order_by(Account.id)
    )
    for status_id, account in rows.all():
        mentioned[status_id].append(account)
    boosters: dict[int, list[int]] = {i: [] for i in ids}
    for original, booster in (
        await session.execute(
            select(Status.reblog_of_id, Status.account_id).where(Status.reblog_of_id.in_(ids))
        )
    ).all():
        if original is not None:
            boosters[original].append(booster)
    reached = {
        a.id: a
        for a in await _remote(
            session,
            [s.in_reply_to_account_id for s in chosen]
            + [b for found in boosters.values() for b in found],
        )
    }
    followers = await _follower_inboxes_of(session, {s.account_id for s in chosen})
    settings = fed.settings
    for status in chosen:
        author = authors[status.account_id]
        direct = status.visibility == "direct"
        inboxes: list[str | None] = []
        if not direct:
            inboxes += followers.get(author.id, [])
        inboxes += [inbox_of(a, personal=direct) for a in mentioned[status.id] if not a.is_local]
        if status.visibility in ("public", "unlisted"):
            near = [status.in_reply_to_account_id, *boosters[status.id]]
            inboxes += [inbox_of(reached[i]) for i in dict.fromkeys(near) if i in reached]
        to, cc = render.addressing(settings, author, status.visibility, mentioned[status.id])
        activity = render.delete(
            render.actor_uri(settings, author), render.status_uri(settings, author, status), to, cc
        )
        targets = sorted({i for i in inboxes if i})
        await send(session, fed, author, activity, targets, status_id=status.id)


async def _follower_inboxes_of(
    session: AsyncSession, account_ids: set[int]
) -> dict[int, list[str]]:
    """`follower_inboxes` of many accounts in one query."""
    inbox = func.coalesce(func.nullif(Account.shared_inbox_url, ""), Account.inbox_url)
    rows = await session.execute(
        select(Follow.target_account_id, inbox)
        .distinct()
        .select_from(Follow)
        .join(Account, Account.id == Follow.account_id)
        .where(
            Follow.target_account_id.in_(account_ids),
            Account.domain.is_not(None),
            inbox.is_not(None),
        )
    )
    found: dict[int, list[str]] = {}
    for target, url in rows.all():
        if url:
            found.setdefault(target, []).append(url)
    return found
