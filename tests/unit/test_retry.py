"""Back-off grows from ~5 s to an hour with jitter; Retry-After is honoured but capped."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from outbox.retry import backoff, retry_after, retryable_status


def test_backoff_starts_near_five_seconds_and_doubles_to_an_hour() -> None:
    rng = random.Random(1)
    first = [backoff(1, rng) for _ in range(200)]
    assert min(first) >= 4.0
    assert max(first) <= 6.0
    assert 8.0 <= backoff(2, rng) <= 12.0
    assert all(2880 <= backoff(n, rng) <= 4320 for n in range(12, 40))
    assert len({round(x, 3) for x in first}) > 100  # jitter spreads retries apart


def test_retry_after_seconds_and_dates_are_capped_at_an_hour() -> None:
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    assert retry_after("120", now) == 120
    assert retry_after("999999", now) == 3600
    later = format_datetime(now + timedelta(minutes=3), usegmt=True)
    assert retry_after(later, now) == 180
    assert retry_after("soon", now) is None
    assert retry_after(None, now) is None


def test_a_retry_after_no_clock_can_read_is_ignored() -> None:
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    for odd in ("²", "٣٠", "-5", "1e3", "Sun, 31 Dec 99999 23:59:59 GMT", "x" * 10_000):
        assert retry_after(odd, now) is None, odd
    # A date without a zone (`-0000`) is UTC, not a naive time that cannot be compared.
    assert retry_after("Sun, 22 Nov 2026 12:02:00 -0000", now) == 120


def test_which_answers_are_worth_retrying() -> None:
    assert all(retryable_status(s) for s in (408, 429, 500, 502, 503))
    assert not any(retryable_status(s) for s in (400, 401, 403, 404, 410, 422))
