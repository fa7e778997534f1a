"""What endpoints that change state need for federation: the context to hand to an outbox
action, and the nudge that makes the delivery worker send what the transaction queued."""

from __future__ import annotations

from outbox.context import Federation
from outbox.deliveries import take_queued
from web.api.base import Call


def federation(c: Call) -> Federation | None:
    return c.node.federation


def wake_deliveries(c: Call) -> None:
    """Call after the write block committed: the worker finds the new rows at once (if the
    request queued any)."""
    if c.node.federation is not None and take_queued():
        c.node.federation.wake_deliveries()
