"""Update of a note by its author (a new revision), or of the sender's own actor document."""

from __future__ import annotations

from inbox import announcements, emoji, groups
from inbox.dereference import store_actor
from inbox.dispatch import Incoming, handles
from inbox.notes import revise_note
from inbox.parse import ACTOR_TYPES, Unusable, actor_fields, authority, type_of, uri_of
from inbox.parse_notes import is_note
from inbox.targets import status_by_uri


@handles("Update")
async def update(incoming: Incoming) -> None:
    document = incoming.object
    if not isinstance(document, dict):
        return  # only the id: nothing to apply
    if type_of(document) in ACTOR_TYPES:
        await _update_actor(incoming, document)
    elif is_note(document) and announcements.extension(document) is not None:
        if document.get("attributedTo") != incoming.actor.uri:
            raise Unusable("only its author may change an announcement")
        await announcements.received(incoming, document, edit=True)
    elif is_note(document):
        status = await status_by_uri(incoming.session, uri_of(document))
        if status is None:
            return  # a note we never stored: its update is of no interest either
        if status.account_id != incoming.actor.id:
            raise Unusable("only the author may update a note")
        if status.reblog_of_id is None:
            fed, session = incoming.fed, incoming.session
            await emoji.record(session, fed.allowlist(), incoming.actor.domain, document)
            await revise_note(session, status, document)
            await groups.relay_change(incoming, status)


async def _update_actor(incoming: Incoming, document: dict[str, object]) -> None:
    if uri_of(document) != incoming.actor.uri:
        raise Unusable("an actor may only update itself")
    fields = actor_fields(document)
    if authority(fields["uri"]) != authority(incoming.actor.uri or ""):
        raise Unusable("the actor document lives on another host")
    if fields["public_key_pem"] is None:
        del fields["public_key_pem"]  # an update without a key keeps the one we know
    account = await store_actor(incoming.session, fields)
    await emoji.record(incoming.session, incoming.fed.allowlist(), account.domain, document)
