"""Time-ordered 64-bit ids: milliseconds since the epoch << 16 | a sequence.

Ids sort by creation time, so pagination by id is pagination by time, and clients get them as
digit-only strings. Each millisecond's sequence starts at a random point in the lower half, so
two processes writing in the same millisecond are unlikely to collide (the primary key catches
the rest), and one process can make 32,768+ ids per millisecond before borrowing the next.
"""

from __future__ import annotations

import secrets
import threading
import time

_lock = threading.Lock()
_last_ms = 0
_sequence = 0


def new_id(at_ms: int | None = None) -> int:
    """A fresh id; `at_ms` back-dates it (remote posts keep their publication time)."""
    global _last_ms, _sequence
    if at_ms is not None:
        return (at_ms << 16) | secrets.randbits(16)
    with _lock:
        now = int(time.time() * 1000)
        if now > _last_ms:
            _last_ms = now
            _sequence = secrets.randbits(15)
        else:
            _sequence += 1
            if _sequence > 0xFFFF:
                _last_ms += 1
                _sequence = secrets.randbits(15)
        return (_last_ms << 16) | _sequence


def id_for_time(at_ms: int) -> int:
    """The smallest id that a row created at `at_ms` can have (for time-based cursors)."""
    return at_ms << 16
