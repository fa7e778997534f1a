"""Federating what local accounts do to remote ones: Follow, Accept, Reject, Block, their Undo,
and Update(Person) after a profile change.

Each function queues its activity in the caller's transaction and does nothing for remote
actors (their own server speaks for them) or without federation. Activities aimed at one actor
go to that actor's own inbox, as Mastodon sends them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from federation.jsonld import PUBLIC
from models.account import Account
from models.base import utcnow
from models.group import Group
from models.relationship import Follow, FollowRequest
from models.settings import Settings
from outbox import emoji_use, render
from outbox.context import Federation
from outbox.deliveries import inbox_of
from outbox.federate import send


def follow_uri(settings: Settings, follower: Account, row_id: int) -> str:
    """The id of a Follow a local account sends: its FollowRequest (or Follow) row's."""
    return f"{render.actor_uri(settings, follower)}#follows/{row_id}"


def block_uri(settings: Settings, account: Account, row_id: int) -> str:
    return f"{render.actor_uri(settings, account)}#blocks/{row_id}"


def _follow(
    settings: Settings, follower: Account, target: Account, uri: str | None
) -> dict[str, Any]:
    activity: dict[str, Any] = {
        "type": "Follow",
        "actor": render.actor_uri(settings, follower),
        "object": render.actor_uri(settings, target),
    }
    if uri:  # a remote Follow whose id we never learnt is named by actor and object only
        activity = {"id": uri, **activity}
    return activity


def _aimed(fed: Federation | None, actor: Account, other: Account) -> bool:
    """Whether an activity by `actor` for `other` federates: local actor, remote other."""
    return fed is not None and actor.is_local and not other.is_local


async def _send_to(
    session: AsyncSession, fed: Federation, actor: Account, other: Account, activity: Any
) -> None:
    await send(session, fed, actor, activity, [inbox_of(other, personal=True)])


async def follow(
    session: AsyncSession, fed: Federation | None, follower: Account, target: Account, uri: str
) -> None:
    if fed is None or not _aimed(fed, follower, target):
        return
    activity = render.with_context(_follow(fed.settings, follower, target, uri))
    await _send_to(session, fed, follower, target, activity)


async def undo_follow(
    session: AsyncSession,
    fed: Federation | None,
    follower: Account,
    target: Account,
    uri: str | None,
) -> None:
    """Undo(Follow) naming the Follow with the id it was sent with."""
    if fed is None or not _aimed(fed, follower, target) or uri is None:
        return
    activity = render.with_context(_follow(fed.settings, follower, target, uri))
    await _send_to(session, fed, follower, target, render.undo(activity))


async def answer_follow(
    session: AsyncSession,
    fed: Federation | None,
    account: Account,
    follower: Account,
    *,
    accept: bool,
    follow_id: str | None,
    row_id: int,
) -> None:
    """Accept or Reject a remote account's Follow, echoing their activity (id `follow_id`)."""
    if fed is None or not _aimed(fed, account, follower):
        return
    settings = fed.settings
    kind = "accepts" if accept else "rejects"
    activity = render.simple(
        "Accept" if accept else "Reject",
        f"{render.actor_uri(settings, account)}#{kind}/follows/{row_id}",
        render.actor_uri(settings, account),
        _follow(settings, follower, account, follow_id),
    )
    await _send_to(session, fed, account, follower, activity)


def _block(settings: Settings, account: Account, target: Account, uri: str) -> dict[str, Any]:
    return render.simple(
        "Block", uri, render.actor_uri(settings, account), render.actor_uri(settings, target)
    )


async def block(
    session: AsyncSession, fed: Federation | None, account: Account, target: Account, uri: str
) -> None:
    if fed is None or not _aimed(fed, account, target):
        return
    await _send_to(session, fed, account, target, _block(fed.settings, account, target, uri))


async def undo_block(
    session: AsyncSession,
    fed: Federation | None,
    account: Account,
    target: Account,
    uri: str | None,
) -> None:
    if fed is None or not _aimed(fed, account, target) or uri is None:
        return
    activity = render.undo(_block(fed.settings, account, target, uri))
    await _send_to(session, fed, account, target, activity)


async def _profile_audience(session: AsyncSession, account_id: int) -> list[str]:
    """Remote nodes that keep a copy of the profile: followers', and those followed or asked."""
    followers = select(Follow.account_id).where(Follow.target_account_id == account_id)
    followed = select(Follow.target_account_id).where(Follow.account_id == account_id)
    asked = select(FollowRequest.target_account_id).where(FollowRequest.account_id == account_id)
    rows = await session.execute(
        select(Account).where(
            Account.domain.is_not(None),
            or_(Account.id.in_(followers), Account.id.in_(followed), Account.id.in_(asked)),
        )
    )
    return sorted({i for i in (inbox_of(a) for a in rows.scalars()) if i})


async def group_members_only(session: AsyncSession, account: Account) -> bool | None:
    """For a local group's actor document: whether only members see its posts."""
    if not (account.group and account.is_local):
        return None
    rules = await session.get(Group, account.id)
    return None if rules is None else rules.visibility != "public"


async def update_person(session: AsyncSession, fed: Federation | None, account: Account) -> None:
    """Update(Person) after a profile change, to the shared inboxes of remote followers."""
    if fed is None or not account.is_local:
        return
    settings = fed.settings
    uri = render.actor_uri(settings, account)
    moment = int((account.updated_at or utcnow()).timestamp() * 1000)
    emojis = await emoji_use.of_account(session, account)
    members_only = await group_members_only(session, account)
    document = render.person(settings, account, emojis, members_only=members_only)
    person = {k: v for k, v in document.items() if k != "@context"}
    activity = render.simple("Update", f"{uri}#updates/{moment}", uri, person, to=[PUBLIC])
    await send(session, fed, account, activity, await _profile_audience(session, account.id))
