"""Notifications -> Mastodon's Notification entity, with their statuses presented in one batch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.account import Account
from models.notification import Notification
from models.notification_groups import group_key
from models.status import Status
from web.api.serializers.entities import account, iso
from web.api.serializers.links import Links
from web.api.serializers.statuses import statuses


async def notifications(
    session: AsyncSession, links: Links, rows: Sequence[Notification], viewer_id: int
) -> list[dict[str, Any]]:
    account_ids = {n.from_account_id for n in rows}
    status_ids = {n.status_id for n in rows if n.status_id}
    accounts = {}
    if account_ids:
        found = await session.execute(select(Account).where(Account.id.in_(account_ids)))
        accounts = {a.id: a for a in found.scalars()}
    status_rows: list[Status] = []
    if status_ids:
        status_rows = list(
            (await session.execute(select(Status).where(Status.id.in_(status_ids)))).scalars()
        )
    presented = {s["id"]: s for s in await statuses(session, links, status_rows, viewer_id)}
    out = []
    for n in rows:
        if n.from_account_id not in accounts:
            continue
        out.append(
            {
                "id": str(n.id),
                "type": n.type,
                "created_at": iso(n.created_at),
                "group_key": group_key(n.type, n.status_id, n.id),
                "account": account(accounts[n.from_account_id], links),
                "status": presented.get(str(n.status_id)) if n.status_id else None,
            }
        )
    return out
