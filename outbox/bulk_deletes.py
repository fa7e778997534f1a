"""Delete activities for many local posts at once (a retention sweep): the same Delete to
the same inboxes as outbox.federate.delete_note sends for one post, with mentions, boosters
and followers read once for all of them."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.account import Account
from models.relationship import Follow
from models.status import Mention, Status
from outbox import render
from outbox.context import Federation
from outbox.deliveries import inbox_of
from outbox.federate import FEDERATED, remote_accounts, send


async def delete_notes(
    session: AsyncSession,
    fed: Federation | None,
    authors: dict[int, Account],
    statuses: Iterable[Status],
) -> None:
    """`delete_note` for many local posts (not boosts, not group posts) in one transaction:
    the same Delete to the same inboxes, one activity per post, but mentions, boosters and
    followers are read once for all of them instead of once per post."""
    if fed is None:
        return
    chosen = [
        s
        for s in statuses
        if s.visibility in FEDERATED
        and not s.held
        and s.reblog_of_id is None
        and authors[s.account_id].is_local
    ]
    if not chosen:
        return
    ids = [s.id for s in chosen]
    mentioned: dict[int, list[Account]] = {i: [] for i in ids}
    rows = await session.execute(
        select(Mention.status_id, Account)
        .join(Account, Account.id == Mention.account_id)
        .where(Mention.status_id.in_(ids))
        .order_by(Account.id)
    )
    for status_id, account in rows.all():
        mentioned[status_id].append(account)
    boosters: dict[int, list[int]] = {i: [] for i in ids}
    for original, booster in (
        await session.execute(
            select(Status.reblog_of_id, Status.account_id).where(Status.reblog_of_id.in_(ids))
        )
    ).all():
        if original is not None:
            boosters[original].append(booster)
    reached = {
        a.id: a
        for a in await remote_accounts(
            session,
            [s.in_reply_to_account_id for s in chosen]
            + [b for found in boosters.values() for b in found],
        )
    }
    followers = await _follower_inboxes_of(session, {s.account_id for s in chosen})
    settings = fed.settings
    for status in chosen:
        author = authors[status.account_id]
        direct = status.visibility == "direct"
        inboxes: list[str | None] = []
        if not direct:
            inboxes += followers.get(author.id, [])
        inboxes += [inbox_of(a, personal=direct) for a in mentioned[status.id] if not a.is_local]
        if status.visibility in ("public", "unlisted"):
            near = [status.in_reply_to_account_id, *boosters[status.id]]
            inboxes += [inbox_of(reached[i]) for i in dict.fromkeys(near) if i in reached]
        to, cc = render.addressing(settings, author, status.visibility, mentioned[status.id])
        activity = render.delete(
            render.actor_uri(settings, author), render.status_uri(settings, author, status), to, cc
        )
        targets = sorted({i for i in inboxes if i})
        await send(session, fed, author, activity, targets, status_id=status.id)


async def _follower_inboxes_of(
    session: AsyncSession, account_ids: set[int]
) -> dict[int, list[str]]:
    """`follower_inboxes` of many accounts in one query."""
    inbox = func.coalesce(func.nullif(Account.shared_inbox_url, ""), Account.inbox_url)
    rows = await session.execute(
        select(Follow.target_account_id, inbox)
        .distinct()
        .select_from(Follow)
        .join(Account, Account.id == Follow.account_id)
        .where(
            Follow.target_account_id.in_(account_ids),
            Account.domain.is_not(None),
            inbox.is_not(None),
        )
    )
    found: dict[int, list[str]] = {}
    for target, url in rows.all():
        if url:
            found.setdefault(target, []).append(url)
    return found
