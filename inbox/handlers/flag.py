"""Flag (a report about local accounts or statuses): logged for the operator until reports
are built; the activity itself stays stored."""

from __future__ import annotations

import logging

from inbox.dispatch import Incoming, handles
from inbox.parse import text, uris

log = logging.getLogger("flurfunk.inbox")


@handles("Flag")
async def flag(incoming: Incoming) -> None:
    log.warning(
        "report from %s about %s: %s",
        incoming.actor.uri,
        ", ".join(uris(incoming.object)[:20]),
        text(incoming.activity.get("content"), 500),
    )
