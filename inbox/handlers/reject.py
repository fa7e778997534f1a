"""Reject of a Follow that a local account sent.

Only the followed actor may reject: the Follow must have been sent to the signer. A pending
request is withdrawn; a follow already accepted ends (Mastodon's "remove from followers").
A group's Reject of a Like of ours (of a post in the group) takes the favourite back here.
"""

from __future__ import annotations

from sqlalchemy import select

from inbox.dispatch import Incoming, handles
from inbox.parse import Unusable, type_of, uri_of
from inbox.targets import follow_sent_to
from models.account import Account
from models.interaction import Favourite
from models.relationship import FollowRequest
from models.status import Status
from outbox import interactions, relationships


@handles("Reject")
async def reject(incoming: Incoming) -> None:
    session, target = incoming.session, incoming.actor
    if target.group and type_of(incoming.object) == "Create":
        return  # a group refused a post of ours (FEP-1b12): nobody there saw it
    if target.group and type_of(incoming.object) == "Like":
        await _refused_like(incoming)
        return
    sent = await follow_sent_to(session, incoming.fed.settings, target, incoming.object)
    if sent is None:
        raise Unusable("the Reject names no follow sent to its actor")
    follower = await session.get(Account, sent.account_id)
    if follower is None:
        return
    if isinstance(sent, FollowRequest):
        await relationships.reject(session, target, follower)
    else:
        await relationships.remove_from_followers(session, target, follower)


async def _refused_like(incoming: Incoming) -> None:
    session = incoming.session
    row = (
        await session.execute(
            select(Favourite.account_id, Favourite.status_id).where(
                Favourite.uri == uri_of(incoming.object)
            )
        )
    ).first()
    if row is None:
        return
    status = await session.get(Status, row[1])
    liker = await session.get(Account, row[0])
    if status is None or liker is None or not liker.is_local:
        return
    if status.audience_id == incoming.actor.id:
        await interactions.unfavourite(session, liker, status.id)
