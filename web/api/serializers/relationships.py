"""The viewer's Relationship to other accounts, every kind of row in one batch each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.account import Account
from models.personal import AccountNote, DomainBlock, Endorsement
from models.relationship import Block, Follow, FollowRequest, Mute


async def relationships(
    session: AsyncSession, viewer_id: int, target_ids: Sequence[int]
) -> list[dict[str, Any]]:
    targets = set(target_ids)

    async def pairs(model: Any, *, reverse: bool = False) -> dict[int, Any]:
        if not targets:
            return {}
        mine, theirs = (
            (model.target_account_id, model.account_id)
            if reverse
            else (model.account_id, model.target_account_id)
        )
        # `mine` is the viewer's side of the row: the actor, or with `reverse` the target.
        rows = (
            await session.execute(select(model).where(mine == viewer_id, theirs.in_(targets)))
        ).scalars()
        return {(r.account_id if reverse else r.target_account_id): r for r in rows}

    following = await pairs(Follow)
    followed_by = await pairs(Follow, reverse=True)
    requested = await pairs(FollowRequest)
    requested_by = await pairs(FollowRequest, reverse=True)
    blocking = await pairs(Block)
    blocked_by = await pairs(Block, reverse=True)
    muting = {t: m for t, m in (await pairs(Mute)).items() if m.in_force}
    endorsed = await pairs(Endorsement)
    notes: dict[int, str] = {}
    blocked_nodes: set[int] = set()
    if targets:
        found = await session.execute(
            select(AccountNote.target_account_id, AccountNote.comment).where(
                AccountNote.account_id == viewer_id, AccountNote.target_account_id.in_(targets)
            )
        )
        notes = {target: comment for target, comment in found}
        blocked_nodes = set(
            await session.scalars(
                select(Account.id).where(
                    Account.id.in_(targets),
                    Account.domain.in_(
                        select(DomainBlock.domain).where(DomainBlock.account_id == viewer_id)
                    ),
                )
            )
        )
    out = []
    for target in target_ids:
        follow = following.get(target)
        mute = muting.get(target)
        out.append(
            {
                "id": str(target),
                "following": follow is not None,
                "showing_reblogs": follow.show_reblogs if follow else False,
                "notifying": follow.notify if follow else False,
                "languages": None,
                "followed_by": target in followed_by,
                "blocking": target in blocking,
                "blocked_by": target in blocked_by,
                "muting": mute is not None,
                "muting_notifications": bool(mute and mute.hide_notifications),
                "requested": target in requested,
                "requested_by": target in requested_by,
                "domain_blocking": target in blocked_nodes,
                "endorsed": target in endorsed,
                "note": notes.get(target, ""),
            }
        )
    return out
