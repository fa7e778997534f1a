"""Like of a local status: a favourite by the remote actor (counter and notification).

Likes of statuses we do not have, or of remote ones (their home counts them), change nothing,
except a Like of a post in a group of this node: the group checks membership and relays it.
"""

from __future__ import annotations

from inbox import groups
from inbox.dispatch import Incoming, handles
from inbox.parse import Unusable, uri_of
from inbox.targets import status_by_uri
from outbox import interactions
from outbox.status_parts import StatusProblem


@handles("Like")
async def like(incoming: Incoming) -> None:
    session = incoming.session
    status = await status_by_uri(session, uri_of(incoming.object))
    if status is None:
        return
    if await groups.receive_like(incoming, status):
        return
    if not status.local:
        return
    try:
        await interactions.favourite(
            session, incoming.actor, status.id, uri=uri_of(incoming.activity.get("id"))
        )
    except StatusProblem:
        raise Unusable("the actor may not see this status") from None
