"""Reject of a Follow that a local account sent.

Only the followed actor may reject: the Follow must have been sent to the signer. A pending
request is withdrawn; a follow already accepted ends (Mastodon's "remove from followers").
"""

from __future__ import annotations

from inbox.dispatch import Incoming, handles
from inbox.parse import Unusable, type_of
from inbox.targets import follow_sent_to
from models.account import Account
from models.relationship import FollowRequest
from outbox import relationships


@handles("Reject")
async def reject(incoming: Incoming) -> None:
    session, target = incoming.session, incoming.actor
    if target.group and type_of(incoming.object) == "Create":
        return  # a group refused a post of ours (FEP-1b12): nobody there saw it
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
