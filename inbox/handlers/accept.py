"""Accept of a Follow that a local account sent.

Only the followed actor may accept: the Follow must have been sent to the signer. The pending
request becomes a follow, which keeps the request's id for a later Undo or Reject.
"""

from __future__ import annotations

from inbox.dispatch import Incoming, handles
from inbox.parse import Unusable
from inbox.targets import follow_sent_to
from models.account import Account
from models.relationship import Follow
from outbox import relationships


@handles("Accept")
async def accept(incoming: Incoming) -> None:
    session, target = incoming.session, incoming.actor
    sent = await follow_sent_to(session, incoming.fed.settings, target, incoming.object)
    if sent is None:
        raise Unusable("the Accept names no follow sent to its actor")
    if isinstance(sent, Follow):
        return  # accepted before
    follower = await session.get(Account, sent.account_id)
    if follower is not None:
        await relationships.authorize(session, target, follower)
