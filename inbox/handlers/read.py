"""Read: a node's batch of read receipts for one of our announcements (inbox.announcements)."""

from __future__ import annotations

from inbox import announcements
from inbox.dispatch import Incoming, handles


@handles("Read")
async def read(incoming: Incoming) -> None:
    await announcements.read_receipt(incoming)
