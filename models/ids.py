"""Time-ordered 64-bit ids: milliseconds since the epoch << 16 | a per-process sequence.

Ids sort by creation time, so pagination by id is pagination by time, and clients get them as
digit-only strings. The sequence starts at a random point in every process so that two processes
writing in the same millisecond are unlikely to collide; the primary key catches the rest.
"""

from __future__ import annotations

import secrets
import threading
import time

_lock = threading.Lock()
_last_ms = 0
_sequence = secrets.randbelow(1 << 16)


def new_id(at_ms: int | None = None) -> int:
    """A fresh id; `at_ms` back-dates it (remote posts keep their publication time)."""
    global _last_ms, _sequence
    with _lock:
        now = int(time.time() * 1000) if at_ms is None else at_ms
        _sequence = (_sequence + 1) & 0xFFFF
        if at_ms is None:
            if now < _last_ms:
                now = _last_ms
            _last_ms = now
        return (now << 16) | _sequence


def id_for_time(at_ms: int) -> int:
    """The smallest id that a row created at `at_ms` can have (for time-based cursors)."""
    return at_ms << 16
