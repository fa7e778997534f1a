"""A group's moderators remove a post from the group: it goes here, and a Delete by the
group is Announced to the members' nodes (which take it only for posts of that group)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from models.account import Account
from models.group import Group
from models.ids import new_id
from models.status import Status
from outbox import account_removal, group_relay, render
from outbox.context import Federation


async def remove_post(
    session: AsyncSession,
    fed: Federation | None,
    group_account: Account,
    group: Group,
    status: Status,
) -> None:
    if status.audience_id != group_account.id or status.reblog_of_id is not None:
        raise LookupError("the post is not in this group")
    author = await session.get(Account, status.account_id)
    if author is None:
        raise LookupError("the post has no author")
    if fed is not None and status.uri:
        uri = render.actor_uri(fed.settings, group_account)
        delete = render.with_context(
            {
                "id": f"{uri}#deletes/{new_id()}",
                "type": "Delete",
                "actor": uri,
                "to": [uri + "/followers"],
                "object": status.uri,
            }
        )
        await group_relay.relay(session, fed, group_account, group, delete)
    await account_removal.remove_status(session, author, status.id, by="group moderation")
