"""The allowlist every part of a running process consults, kept fresh from the database.

CLI commands change the table while nodes run; each process re-reads it at most
`REFRESH_SECONDS` after a change (and at once after a change it made itself), so removals take
effect everywhere within seconds without a restart.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from federation.allowlist import Allowlist, PatternError, parse_pattern
from models import allowlist as stored
from models.db import Database
from outbox.permissions import Operator, require

REFRESH_SECONDS = 2.0
log = logging.getLogger("flurfunk.allowlist")


def normalise(pattern: str) -> str:
    """The canonical text of a pattern; raises PatternError for nonsense."""
    return str(parse_pattern(pattern))


async def allow(session: AsyncSession, operator: Operator, pattern: str) -> bool:
    """Add a normalised pattern in the operator's name (allowlist audit log); False when it
    was there already. The one path of /admin/federation, the CLI and the admin API."""
    require(operator, "manage_allowlist")
    return await stored.add(session, pattern, operator.name)


async def disallow(session: AsyncSession, operator: Operator, pattern: str) -> bool:
    """Remove a normalised pattern in the operator's name; False when it was not there."""
    require(operator, "manage_allowlist")
    return await stored.remove(session, pattern, operator.name)


class LiveAllowlist:
    def __init__(self, db: Database, initial: Iterable[str] = ()) -> None:
        self._db = db
        self._current = Allowlist(initial)
        self._loaded_at = 0.0

    def __call__(self) -> Allowlist:
        """The allowlist as of the last refresh (cheap; called on every request)."""
        return self._current

    @property
    def stale(self) -> bool:
        return time.monotonic() - self._loaded_at >= REFRESH_SECONDS

    async def refresh(self) -> Allowlist:
        async with self._db.read() as session:
            texts = await stored.patterns(session)
        valid = []
        for text in texts:
            try:
                valid.append(parse_pattern(text))
            except PatternError:
                log.warning("ignoring unusable allowlist pattern %r", text)
        self._current = Allowlist(valid)
        self._loaded_at = time.monotonic()
        return self._current

    async def fresh(self) -> Allowlist:
        """The allowlist, re-read first if the last read is older than REFRESH_SECONDS."""
        if self.stale:
            await self.refresh()
        return self._current
