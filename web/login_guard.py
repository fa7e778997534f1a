"""Slowing down password guessing: failed sign-ins are counted per client address and per
login name, and once either has failed too often, further attempts are refused for a while
without checking the password (429 with Retry-After).

Both the sign-in page and the OAuth password grant go through it. Only failures count, so a
user who types their password right is never held up by this. The budget per login name is
generous, because a stranger could otherwise lock a colleague out by failing on purpose.
Counted per process, as the request budgets (web.ratelimit): with N web processes a guesser
gets up to N times the budget, still far too little to guess a password.
"""

from __future__ import annotations

import time

from starlette.requests import HTTPConnection

PER_ADDRESS = (25, 300)  # failures, in so many seconds
PER_LOGIN = (25, 3600)
MAX_KEYS = 100_000  # beyond this, forget everything rather than grow without bound


class TooManyFailures(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed sign-ins; retry in {retry_after} s")
        self.retry_after = retry_after


class LoginGuard:
    def __init__(
        self, per_address: tuple[int, int] = PER_ADDRESS, per_login: tuple[int, int] = PER_LOGIN
    ) -> None:
        self._budgets = {"address": per_address, "login": per_login}
        self._failures: dict[tuple[str, str], tuple[int, int]] = {}  # key -> (window start, n)

    def retry_after(self, address: str, login: str) -> int | None:
        """Seconds until this address may try this login again; None when it may now."""
        now = int(time.time())
        waits = []
        for kind, value in (("address", address), ("login", _normal(login))):
            limit, window = self._budgets[kind]
            start, count = self._failures.get((kind, value), (0, 0))
            if count >= limit and now < start + window:
                waits.append(start + window - now)
        return max(waits) if waits else None

    def check(self, address: str, login: str) -> None:
        """Raise TooManyFailures when this attempt must not even be looked at."""
        wait = self.retry_after(address, login)
        if wait is not None:
            raise TooManyFailures(wait)

    def failed(self, address: str, login: str) -> None:
        now = int(time.time())
        if len(self._failures) > MAX_KEYS:
            self._failures.clear()
        for kind, value in (("address", address), ("login", _normal(login))):
            window = self._budgets[kind][1]
            start, count = self._failures.get((kind, value), (now, 0))
            if now >= start + window:
                start, count = now, 0
            self._failures[(kind, value)] = (start, count + 1)


def client_address(conn: HTTPConnection) -> str:
    """The client's address (uvicorn has applied X-Forwarded-For from trusted proxies)."""
    return conn.client.host if conn.client else ""


def _normal(login: str) -> str:
    return login.strip().lower()
