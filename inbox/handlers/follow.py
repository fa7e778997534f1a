"""Follow: a remote actor follows a local account.

An open account accepts at once (the Accept goes back, also for a repeated Follow); a locked
one gets a follow request that its owner decides on; a blocked follower is rejected. The
Follow's id stays on the row, so that the follower's later Undo can name it.
"""

from __future__ import annotations

from inbox.dispatch import Incoming, handles
from inbox.parse import Unusable, uri_of
from inbox.targets import local_account
from models.ids import new_id
from outbox import relationship_activities, relationships


@handles("Follow")
async def follow(incoming: Incoming) -> None:
    session, follower = incoming.session, incoming.actor
    target = await local_account(session, uri_of(incoming.object))
    if target is None:
        raise Unusable("the Follow names no account of this node")
    follow_uri = uri_of(incoming.activity.get("id"))
    if follow_uri is None:
        raise Unusable("a Follow without an id cannot be answered")
    try:
        await relationships.follow(session, follower, target, fed=incoming.fed, uri=follow_uri)
    except relationships.NotPermitted:
        await relationship_activities.answer_follow(
            session,
            incoming.fed,
            target,
            follower,
            accept=False,
            follow_id=follow_uri,
            row_id=new_id(),
        )
