"""What every request handler may use: the settings, the database, the rate limiters."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import HTTPConnection

from federation.allowlist import Allowlist
from models.db import Database
from models.settings import Settings
from outbox.context import Federation
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
        allowlist = self.federation.allowlist() if self.federation else Allowlist()
        return Links(self.settings, allowlist)


def node_of(conn: HTTPConnection) -> Node:
    node: Node = conn.app.state.node
    return node
