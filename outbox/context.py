"""What federating code needs at hand in a running process, built once by the app factory."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from federation.allowlist import PreviewHosts
from federation.client import FederationClient
from models.broker import Broker, InProcessBroker
from models.db import Database
from models.settings import Settings
from outbox.allowlist import LiveAllowlist
from outbox.emoji_catalogue import LiveEmojis
from outbox.signing import Identity


def _nothing() -> None:
    return None


@dataclass
class Federation:
    settings: Settings
    db: Database
    allowlist: LiveAllowlist
    client: FederationClient
    instance: Identity  # signs the node's own fetches (authorized fetch)
    instance_public_pem: str
    wake_deliveries: Callable[[], None] = field(default=_nothing)
    wake_inbox: Callable[[], None] = field(default=_nothing)
    broker: Broker = field(default_factory=InProcessBroker)  # stream events (outbox.events)
    emojis: LiveEmojis | None = None  # usable custom emoji, for presenting entities
    # Where link previews (and so remote files) may come from: the allowlist and PREVIEW_HOSTS.
    preview_hosts: PreviewHosts | None = None
    preview_client: FederationClient | None = None
