"""Announce: a remote actor boosts a status.

A boost of a local status notifies its author. A status we do not have is fetched from its
home and stored only when the boost is wanted here (someone follows the booster); otherwise
nothing is stored. The boost is a status of its own (uri = the Announce id), in the home
feeds of the booster's local followers.
"""

from __future__ import annotations

from inbox import groups
from inbox.dispatch import Incoming, handles
from inbox.notes import fetch_note, is_ours, store_note
from inbox.parse import Unusable, authority, uri_of
from inbox.parse_notes import boost_visibility, is_note
from inbox.targets import followed_here, status_by_uri
from models.status import Status
from outbox import interactions
from outbox.status_parts import StatusProblem


@handles("Announce")
async def announce(incoming: Incoming) -> None:
    session, booster = incoming.session, incoming.actor
    if groups.is_relay(incoming):
        await groups.receive_relay(incoming)  # a group passing a member's activity on
        return
    boost_uri = uri_of(incoming.activity.get("id"))
    object_uri = uri_of(incoming.object)
    if boost_uri is None or object_uri is None:
        raise Unusable("the Announce has no id or no object")
    if await status_by_uri(session, boost_uri) is not None:
        return  # a repeat
    original = await _original(incoming, object_uri)
    if original is None:
        return
    if not original.local and not await followed_here(session, booster.id):
        return  # nobody here would see the boost
    try:
        await interactions.reblog(
            session,
            incoming.fed.settings,
            booster,
            original.id,
            boost_visibility(incoming.activity),
            uri=boost_uri,
        )
    except StatusProblem:
        raise Unusable("the actor may not boost this status") from None


async def _original(incoming: Incoming, object_uri: str) -> Status | None:
    """The boosted status: stored, or fetched when someone here follows the booster."""
    session, fed = incoming.session, incoming.fed
    original = await status_by_uri(session, object_uri)
    if original is not None:
        return original
    if is_ours(fed, object_uri):
        return None  # one of ours that no longer exists
    if not await followed_here(session, incoming.actor.id):
        return None
    document = incoming.object
    # An embedded note vouches for itself only when it comes from the signer's own host.
    if not (is_note(document) and authority(object_uri) == authority(incoming.actor.uri or "")):
        document = await fetch_note(fed, object_uri)
    return await store_note(fed, session, document, solicited=True)
