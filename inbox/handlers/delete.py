"""Delete of a status by its author, or of the sending actor itself.

A deleted status goes with its boosts, notifications and feed entries, and the counters it
moved move back; its uri is remembered (inbox.tombstones), so that a Create of it processed
later does not store it again. A deleted actor loses everything it had here
(outbox.account_removal).
"""

from __future__ import annotations

from inbox import announcements, groups, tombstones
from inbox.dispatch import Incoming, handles
from inbox.parse import Unusable, uri_of
from inbox.targets import status_by_uri
from outbox import account_removal


@handles("Delete")
async def delete_handler(incoming: Incoming) -> None:
    object_uri = uri_of(incoming.object)
    if object_uri is None:
        raise Unusable("the Delete names nothing")
    if object_uri == incoming.actor.uri:
        await remove_actor(incoming)
        return
    if await announcements.withdrawn(incoming, object_uri):
        return
    status = await status_by_uri(incoming.session, object_uri)
    if status is not None and status.account_id != incoming.actor.id:
        raise Unusable("only the author may delete a status")
    # The sender is the note's origin (checked on receipt): a Create of it that is processed
    # after this (retried, or delivered late) must not store it.
    await tombstones.remember(incoming.session, object_uri)
    if status is None:
        return  # not stored (yet, or any more)
    await groups.relay_change(incoming, status)  # while it exists
    await remove_status(incoming, status.id)


async def remove_status(incoming: Incoming, status_id: int) -> None:
    await account_removal.remove_status(incoming.session, incoming.actor, status_id)


async def remove_actor(incoming: Incoming) -> None:
    # Remote attachments are only linked: their rows go, and there are no files to delete.
    await account_removal.remove_account(incoming.session, incoming.actor)
