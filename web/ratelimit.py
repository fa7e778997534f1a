"""Per-token (or per-address) request budgets with Mastodon's X-RateLimit-* headers.

Counted per process in fixed windows: with several web processes a client may get up to
N times the budget, which errs on the side of scripted clients that must not be cut off.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RateLimiter:
    def __init__(self, limit: int, window: int) -> None:
        self.limit = limit
        self.window = window
        self._counts: dict[str, tuple[int, int]] = {}

    def hit(self, key: str) -> tuple[bool, int, int]:
        """Count one request; returns (allowed, remaining, window reset as epoch seconds)."""
        now = int(time.time())
        window_start = now - now % self.window
        start, count = self._counts.get(key, (window_start, 0))
        if start != window_start:
            start, count = window_start, 0
            if len(self._counts) > 100_000:
                self._counts.clear()
        count += 1
        self._counts[key] = (start, count)
        return count <= self.limit, max(0, self.limit - count), start + self.window


class RateLimitMiddleware:
    """Applies to the client API and the token endpoint; pages and federation are not limited."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path.startswith("/api/") or path == "/oauth/token"):
            await self.app(scope, receive, send)
            return
        limiter: RateLimiter = scope["app"].state.node.rate_limiter
        headers = dict(scope.get("headers", []))
        auth = headers.get(b"authorization", b"")
        key = auth.decode("latin-1") if auth else "ip:" + str((scope.get("client") or ("",))[0])
        allowed, remaining, reset = limiter.hit(key)
        extra = [
            (b"x-ratelimit-limit", str(limiter.limit).encode()),
            (b"x-ratelimit-remaining", str(remaining).encode()),
            (b"x-ratelimit-reset", datetime.fromtimestamp(reset, UTC).isoformat().encode()),
        ]
        if not allowed:
            body = orjson.dumps({"error": "Too many requests"})
            await send(
                {
                    "type": "http.response.start",
                    "status": 429,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        *extra,
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
