"""Which handler processes which activity type: one explicit registry.

A handler gets the stored activity (normalised AS2), the sending actor's account and the
open write session; it changes state through outbox actions so that notifications, feeds and
counters stay in step with local actions. Types without a handler are stored and ignored.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from models.account import Account
from outbox.context import Federation


@dataclass
class Incoming:
    """One activity being processed."""

    fed: Federation
    session: AsyncSession
    activity: dict[str, Any]
    actor: Account  # the remote actor who sent it (the signer's actor)

    @property
    def object(self) -> Any:
        return self.activity.get("object")


Handler = Callable[[Incoming], Awaitable[None]]
_registry: dict[str, Handler] = {}


def handles(*types: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        for activity_type in types:
            if activity_type in _registry:
                raise RuntimeError(f"two handlers for {activity_type}")
            _registry[activity_type] = handler
        return handler

    return register


def handler_for(activity_type: str) -> Handler | None:
    return _registry.get(activity_type)
