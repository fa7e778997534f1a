"""What clients read from other nodes follows the live allowlist: once a host is removed, its
accounts' posts (and boosts of them) leave timelines, threads, single-status reads,
notifications and search — without being deleted, so adding the host back shows them again.

The hidden domains are the known remote domains that the allowlist refuses now. They are
worked out again whenever the allowlist changes, and every half minute for domains first seen
since; in the usual case (nothing refused) every condition here is simply TRUE.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, true
from sqlalchemy.orm import aliased

from federation.allowlist import Allowlist, Pattern, PatternError, split_host_port
from models.account import Account
from models.status import Status
from outbox.allowlist import LiveAllowlist
from web.node import Node

RECHECK_SECONDS = 30.0


@dataclass(frozen=True)
class _Verdict:
    patterns: tuple[Pattern, ...]
    at: float
    hidden: frozenset[str]


_verdicts: weakref.WeakKeyDictionary[LiveAllowlist, _Verdict] = weakref.WeakKeyDictionary()


def _allowed(allowlist: Allowlist, domain: str, uri: str | None) -> bool:
    if uri:
        return allowlist.allows_url(uri)
    try:
        return allowlist.allows(*split_host_port(domain))
    except PatternError:
        return False


async def hidden_domains(node: Node) -> frozenset[str]:
    """Domains of known remote accounts that the allowlist no longer admits."""
    fed = node.federation
    if fed is None:
        return frozenset()
    allowlist = fed.allowlist()
    verdict = _verdicts.get(fed.allowlist)
    now = time.monotonic()
    if (
        verdict is not None
        and verdict.patterns == allowlist.patterns
        and now - verdict.at < RECHECK_SECONDS
    ):
        return verdict.hidden
    async with node.db.read() as session:
        rows = await session.execute(
            select(Account.domain, func.min(Account.uri))
            .where(Account.domain.is_not(None))
            .group_by(Account.domain)
        )
        known = [(domain, uri) for domain, uri in rows if domain]
    hidden = frozenset(d for d, uri in known if not _allowed(allowlist, d, uri))
    _verdicts[fed.allowlist] = _Verdict(allowlist.patterns, now, hidden)
    return hidden


def hidden_accounts(hidden: Iterable[str]) -> Select[int]:
    return select(Account.id).where(Account.domain.in_(sorted(hidden)))


def account_admitted(
    hidden: frozenset[str], column: ColumnElement[int] | None = None
) -> ColumnElement[bool]:
    """Accounts (or rows naming one in `column`) of hosts still allowed, and local ones."""
    if not hidden:
        return true()
    if column is None:
        return or_(Account.domain.is_(None), Account.domain.not_in(sorted(hidden)))
    return column.not_in(hidden_accounts(hidden))


def status_admitted(hidden: frozenset[str]) -> ColumnElement[bool]:
    """Statuses whose author, and for a boost the original's author, are still allowed."""
    if not hidden:
        return true()
    original = aliased(Status)
    original_author = (
        select(original.account_id).where(original.id == Status.reblog_of_id).scalar_subquery()
    )
    refused = hidden_accounts(hidden)
    return and_(
        Status.account_id.not_in(refused),
        or_(Status.reblog_of_id.is_(None), original_author.not_in(refused)),
    )
