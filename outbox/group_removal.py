"""Deleting a local group: every node that has a member (or an open join request or an
invitation) hears one Delete of the Group actor, in the same transaction as the deletion;
those nodes remove the group there as they do for any deleted actor (its boosts of members'
posts and its memberships go, the account stays suspended: inbox.handlers.delete).

Here the group's rules, roles, memberships and boosts go; its members' posts stay their
authors'. The account row stays, suspended and emptied, with its keys (they sign the Delete),
so that its name and actor URL are never given to another group that other nodes would
mistake for it.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from federation.jsonld import PUBLIC
from models.account import Account
from models.group import Group, GroupRole
from models.relationship import FollowRequest
from outbox import account_removal, render
from outbox.context import Federation
from outbox.deliveries import enqueue, follower_inboxes


async def _nodes_to_tell(session: AsyncSession, group_id: int) -> list[str]:
    """One inbox per node with a member, a join request or an invitation."""
    inbox = func.coalesce(func.nullif(Account.shared_inbox_url, ""), Account.inbox_url)
    pending = select(FollowRequest.account_id).where(FollowRequest.target_account_id == group_id)
    invited = select(GroupRole.account_id).where(GroupRole.group_id == group_id)
    rows = await session.execute(
        select(inbox)
        .distinct()
        .where(
            Account.domain.is_not(None),
            inbox.is_not(None),
            Account.id.in_(pending.union(invited)),
        )
    )
    members = await follower_inboxes(session, group_id)
    return sorted({*members, *(url for url in rows.scalars() if url)})


async def delete_group(
    session: AsyncSession, fed: Federation | None, account: Account
) -> tuple[int, list[str]]:
    """Delete the group; returns how many deliveries of the Delete were queued and the media
    files (relative to the media folder) for the caller to remove once committed."""
    queued = 0
    if fed is not None:
        actor = render.actor_uri(fed.settings, account)
        activity = render.delete(actor, actor, [PUBLIC], [])
        queued = await enqueue(
            session,
            fed.allowlist(),
            actor=account,
            activity=activity,
            inboxes=await _nodes_to_tell(session, account.id),
        )
    media = await account_removal.remove_account(session, account)
    await session.execute(delete(GroupRole).where(GroupRole.group_id == account.id))
    await session.execute(delete(Group).where(Group.account_id == account.id))
    media += [p for p in (account.avatar_path, account.header_path) if p]
    account.display_name, account.note, account.note_source, account.fields = "", "", "", []
    account.avatar_path = account.header_path = None
    account.discoverable = False
    await session.flush()
    return queued, media
