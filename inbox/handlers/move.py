"""Move (an account moving to another node): not followed yet; the activity stays stored."""

from __future__ import annotations

import logging

from inbox.dispatch import Incoming, handles
from inbox.parse import uri_of

log = logging.getLogger("flurfunk.inbox")


@handles("Move")
async def move(incoming: Incoming) -> None:
    log.info(
        "%s announced a move to %s", incoming.actor.uri, uri_of(incoming.activity.get("target"))
    )
