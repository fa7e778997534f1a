"""Lists: named groups of followed accounts, each with its own timeline.

Lists are private to their owner and never federate. As in Mastodon, only accounts the owner
follows (or the owner) can be added, and an unfollow or a block should take the account off
the owner's lists (`forget_member`).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.account import Account
from models.db import upsert
from models.relationship import Follow
from models.timeline import List, ListAccount

REPLIES_POLICIES = ("followed", "list", "none")
MAX_LISTS = 50


class ListError(ValueError):
    """Why a list change was refused, fit to show to the user."""


class UnknownAccount(LookupError):
    """An account id that names no account."""


async def create_list(
    session: AsyncSession, owner_id: int, title: str, replies_policy: str, exclusive: bool
) -> List:
    count = await session.scalar(
        select(func.count()).select_from(List).where(List.account_id == owner_id)
    )
    if (count or 0) >= MAX_LISTS:
        raise ListError(f"You cannot have more than {MAX_LISTS} lists")
    lst = List(account_id=owner_id, title=title, replies_policy=replies_policy, exclusive=exclusive)
    session.add(lst)
    await session.flush()
    return lst


async def add_members(session: AsyncSession, lst: List, account_ids: Sequence[int]) -> None:
    """Add accounts to a list; all of them or, if one is refused, none."""
    wanted = set(account_ids)
    if not wanted:
        return
    found = set((await session.execute(select(Account.id).where(Account.id.in_(wanted)))).scalars())
    if wanted - found:
        raise UnknownAccount(min(wanted - found))
    followed = set(
        (
            await session.execute(
                select(Follow.target_account_id).where(
                    Follow.account_id == lst.account_id, Follow.target_account_id.in_(wanted)
                )
            )
        ).scalars()
    )
    followed.add(lst.account_id)
    if wanted - followed:
        raise ListError("Account must be followed before it can be added to a list")
    await session.execute(
        upsert(session, ListAccount)
        .values([{"list_id": lst.id, "account_id": account_id} for account_id in sorted(wanted)])
        .on_conflict_do_nothing()
    )


async def remove_members(session: AsyncSession, lst: List, account_ids: Sequence[int]) -> None:
    if account_ids:
        await session.execute(
            delete(ListAccount).where(
                ListAccount.list_id == lst.id, ListAccount.account_id.in_(set(account_ids))
            )
        )


async def forget_member(session: AsyncSession, owner_id: int, member_id: int) -> None:
    """Take an account off all of the owner's lists (after an unfollow or a block)."""
    await session.execute(
        delete(ListAccount).where(
            ListAccount.account_id == member_id,
            ListAccount.list_id.in_(select(List.id).where(List.account_id == owner_id)),
        )
    )
