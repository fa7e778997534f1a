"""Create of a note: stored when someone here wants it (see inbox.notes), else dropped.

Notes, articles, pages and questions become statuses; other objects (videos, events, …) are
ignored. The note must be the sender's own. A vote on one of our polls is counted instead.
"""

from __future__ import annotations

from inbox import announcements, groups
from inbox.dispatch import Incoming, handles
from inbox.notes import MAX_DEPTH, fetch, store_note
from inbox.parse import Unusable, uri_of
from inbox.parse_notes import author_of, is_note
from inbox.questions import count_vote


@handles("Create")
async def create(incoming: Incoming) -> None:
    document = incoming.object
    if isinstance(document, str):  # only the id: fetch it from its home (the sender's host)
        document = await fetch(incoming.fed, uri_of(document) or "")
    if not is_note(document):
        return
    if author_of(document) != incoming.actor.uri:
        raise Unusable("the note is attributed to someone other than the sender")
    if announcements.extension(document) is not None:
        await announcements.received(incoming, document, edit=False)
        return  # an announcement (a Flurfunk extension), not a post
    if await count_vote(incoming, document):
        return  # a vote on one of our polls, not a post
    if await groups.receive_post(incoming, document):
        return  # a post in one of our groups: relayed to its members, or rejected
    await store_note(
        incoming.fed,
        incoming.session,
        document,
        depth=MAX_DEPTH,
        activity=incoming.activity,
    )
