"""Queueing deliveries: one row per (activity, inbox), written in the caller's transaction.

Recipients on one node share its shared inbox, except for direct messages, which go to each
addressed actor's own inbox so that no shared-inbox fan-out can show them to anyone else.
Hosts that are not on the allowlist get no row at all: nothing leaves unless allowed.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar
from typing import Any

import orjson
from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from federation.allowlist import Allowlist, PatternError, url_host_port
from models.account import Account
from models.base import utcnow
from models.federation import Delivery, OutboxActivity, PeerHost
from models.ids import new_id
from models.relationship import Follow

QUEUED = "flurfunk.deliveries_queued"  # session.info: this transaction queued deliveries


def inbox_of(account: Account, *, personal: bool = False) -> str | None:
    if not personal and account.shared_inbox_url:
        return account.shared_inbox_url
    return account.inbox_url


async def follower_inboxes(session: AsyncSession, account_id: int) -> list[str]:
    """The inboxes that reach every remote follower of an account: each node's shared inbox
    once, else a follower's own (as `inbox_of`).

    Collapsed in SQL: an author with 10,000 followers on 50 nodes gets 50 rows back, not
    10,000 account objects (which took ~0.2 s of CPU per post).
    """
    inbox = func.coalesce(func.nullif(Account.shared_inbox_url, ""), Account.inbox_url)
    rows = await session.execute(
        select(inbox)
        .distinct()
        .select_from(Follow)
        .join(Account, Account.id == Follow.account_id)
        .where(
            Follow.target_account_id == account_id,
            Account.domain.is_not(None),
            inbox.is_not(None),
        )
    )
    return [url for url in rows.scalars() if url]


def host_of(url: str) -> str | None:
    try:
        host, port = url_host_port(url)
    except PatternError:
        return None
    default = {"http": 80, "https": 443}.get(url.split(":", 1)[0].lower())
    return host if port in (None, default) else f"{host}:{port}"


async def enqueue(
    session: AsyncSession,
    allowlist: Allowlist,
    *,
    actor: Account | None,
    activity: dict[str, Any],
    inboxes: Iterable[str | None],
    status_id: int | None = None,
) -> int:
    """Store the activity and one pending delivery per allowed inbox; returns the row count.

    `actor` None: the node's instance actor sends it (signed with its key)."""
    targets = sorted({i for i in inboxes if i and allowlist.allows_url(i)})
    if not targets:
        return 0
    row = OutboxActivity(
        uri=activity["id"],
        account_id=actor.id if actor else None,
        type=activity["type"],
        payload=orjson.dumps(activity).decode(),
        status_id=status_id,
    )
    session.add(row)
    await session.flush()
    now = utcnow()
    await session.execute(
        insert(Delivery),
        [
            {
                "id": new_id(),
                "activity_id": row.id,
                "inbox_url": url,
                "host": host_of(url) or "",
                "state": "pending",
                "attempts": 0,
                "next_attempt_at": now,
            }
            for url in targets
        ],
    )
    session.info[QUEUED] = True
    _queued_by_this_task.set(True)
    return len(targets)


async def withdraw_unsent(session: AsyncSession, status_id: int) -> set[str]:
    """Before a status's Delete is queued: its Create and Update rows that have not reached
    their inbox (the node is down, say) and are not being sent right now are withdrawn, and
    the inboxes whose Create among them was never tried are returned: only those certainly
    never had it, and need no Delete. A Create tried before may have arrived without an
    answer (a timeout), so the Delete goes there; if it overtakes a Create still on its way,
    the receiver remembers the deletion and does not store the late Create (inbox.tombstones)."""
    now = utcnow()
    rows = (
        await session.execute(
            select(Delivery.id, Delivery.inbox_url, Delivery.attempts, OutboxActivity.type)
            .join(OutboxActivity, OutboxActivity.id == Delivery.activity_id)
            .where(
                OutboxActivity.status_id == status_id,
                OutboxActivity.type.in_(("Create", "Update")),
                Delivery.state == "pending",
                or_(Delivery.locked_until.is_(None), Delivery.locked_until < now),
            )
        )
    ).all()
    if rows:
        await session.execute(
            update(Delivery)
            .where(Delivery.id.in_([r.id for r in rows]), Delivery.state == "pending")
            .values(state="done", done_at=now, last_error="withdrawn: the status was deleted")
        )
    return {r.inbox_url for r in rows if r.type == "Create" and r.attempts == 0}


async def refresh_unsent(session: AsyncSession, activity: dict[str, Any]) -> None:
    """After an edit: the status's Create, while a delivery of it has not reached its inbox
    yet (the node is down, say), carries the Note as it is now.

    The Update is sent to those inboxes all the same (a Create may have arrived unanswered),
    and the two are retried together in no particular order: an Update that comes first is
    of a note unknown there and dropped, and the Create must not then bring the old text. The
    one payload serves every inbox still waiting; those it reached have no use for it."""
    waiting = (
        select(Delivery.id)
        .where(Delivery.activity_id == OutboxActivity.id, Delivery.state == "pending")
        .exists()
    )
    await session.execute(
        update(OutboxActivity)
        .where(
            OutboxActivity.uri == activity["id"],
            OutboxActivity.type == "Create",
            waiting,
        )
        .values(payload=orjson.dumps(activity).decode())
        .execution_options(synchronize_session=False)
    )


# Set by `enqueue` for the task (one request) that queued deliveries: the request then wakes
# the delivery worker, and a request that queued none (a post nobody elsewhere follows) does
# not make it claim in vain — with workers, that would be one Redis job per post.
_queued_by_this_task: ContextVar[bool] = ContextVar("deliveries_queued", default=False)


def take_queued() -> bool:
    """Whether this task queued deliveries since it last asked."""
    queued = _queued_by_this_task.get()
    if queued:
        _queued_by_this_task.set(False)
    return queued


def queued_in(session: AsyncSession) -> bool:
    """Whether `enqueue` queued deliveries in this session (the worker is to be woken once it
    commits)."""
    return bool(session.info.get(QUEUED))


async def retry_failed(session: AsyncSession, delivery_id: int) -> Delivery | None:
    """Put a delivery that failed for good back in the queue, due now; None when there is no
    such failed row (it was retried already, or never failed).

    An unavailable host is probed at once too: otherwise the row would wait for the next probe.
    """
    row = await session.get(Delivery, delivery_id, with_for_update=True)
    if row is None or row.state != "failed":
        return None
    now = utcnow()
    row.state = "pending"
    row.next_attempt_at = now
    row.locked_until = None
    row.claimed_by = None
    row.done_at = None
    await session.execute(
        update(PeerHost)
        .where(PeerHost.host == row.host, PeerHost.available.is_(False))
        .values(next_probe_at=now)
    )
    session.info[QUEUED] = True
    _queued_by_this_task.set(True)
    return row
