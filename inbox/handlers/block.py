"""Block of a local account: follows end both ways, and nobody is notified."""

from __future__ import annotations

from inbox.dispatch import Incoming, handles
from inbox.parse import Unusable, uri_of
from inbox.targets import local_account
from outbox import relationships


@handles("Block")
async def block(incoming: Incoming) -> None:
    target = await local_account(incoming.session, uri_of(incoming.object))
    if target is None:
        raise Unusable("the Block names no account of this node")
    await relationships.block(
        incoming.session, incoming.actor, target, uri=uri_of(incoming.activity.get("id"))
    )
