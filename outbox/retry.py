"""When to try a failed delivery again, and when to give up.

First retry after ~5 s, doubling with ±20 % jitter up to an hour between attempts; a peer's
Retry-After is honoured up to that hour; after the horizon (7 days) a row is failed for good.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from federation import values

FIRST_RETRY = 5.0
MAX_INTERVAL = 3600.0
HORIZON = timedelta(days=7)
UNAVAILABLE_AFTER = timedelta(hours=1)
PROBE_INTERVAL = timedelta(minutes=10)


def backoff(attempts: int, rng: random.Random | None = None) -> float:
    """Seconds to wait after the `attempts`-th failed attempt (1 = the first)."""
    base: float = min(MAX_INTERVAL, FIRST_RETRY * 2.0 ** max(0, attempts - 1))
    jitter: float = (rng or random.Random()).uniform(0.8, 1.2)
    return base * jitter


def retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date), capped at an hour."""
    if not value:
        return None
    try:
        return min(MAX_INTERVAL, float(values.integer(value, minimum=0)))
    except values.InvalidValue:
        pass
    try:
        moment = values.parse_http_date(value)
    except values.InvalidValue:
        return None
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return min(MAX_INTERVAL, max(0.0, (moment - now).total_seconds()))


def retryable_status(status: int) -> bool:
    return status in (408, 429) or status >= 500
