"""What every request handler may use: the settings, the database, the rate limiters."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import HTTPConnection

from federation.allowlist import Allowlist
from models.db import Database
from models.settings import Settings
from outbox.context import Federation
from outbox.emoji_catalogue import EmojiCatalogue
from web.api.serializers.links import Links
from web.login_guard import LoginGuard
from web.ratelimit import RateLimiter


@dataclass
class Node:
    settings: Settings
    db: Database
    rate_limiter: RateLimiter
    login_guard: LoginGuard = field(default_factory=LoginGuard)
    federation: Federation | None = None  # set when the app starts (it needs the database)

    def links(self) -> Links:
        """For presenting entities: remote URLs pass if the allowlist admits them now."""
        if self.federation is None:
            return Links(self.settings, Allowlist())
        emojis = self.federation.emojis
        return Links(
            self.settings,
            self.federation.allowlist(),
            emojis() if emojis is not None else EmojiCatalogue(),
            self.federation.preview_hosts,
        )


def node_of(conn: HTTPConnection) -> Node:
    node: Node = conn.app.state.node
    return node
