"""A group of this node passing its members' activities on: each member's post, edit, delete
or like is Announced, unchanged, to the member nodes; what someone may not post is answered
with a Reject whose object it is (FEP-1b12; docs/groups.md).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from federation.jsonld import PUBLIC
from models.account import Account
from models.group import Group
from models.ids import new_id
from models.settings import Settings
from outbox import render
from outbox.context import Federation
from outbox.deliveries import enqueue, inbox_of
from outbox.groups import member_inboxes


def _announce_id(settings: Settings, group: Account) -> str:
    return f"{render.actor_uri(settings, group)}/announces/{new_id()}"


async def relay(
    session: AsyncSession,
    fed: Federation | None,
    group_account: Account,
    group: Group,
    activity: dict[str, Any],
) -> None:
    """Announce `activity` (a member's Create, Update or Delete, unchanged) to the members."""
    if fed is None:
        return
    inboxes = await member_inboxes(session, group_account.id)
    if not inboxes:
        return
    uri = render.actor_uri(fed.settings, group_account)
    followers = uri + "/followers"
    announce = render.with_context(
        {
            "id": _announce_id(fed.settings, group_account),
            "type": "Announce",
            "actor": uri,
            "to": [followers],
            "cc": [PUBLIC] if group.visibility == "public" else [],
            "audience": uri,
            "object": {k: v for k, v in activity.items()},
        }
    )
    await enqueue(session, fed.allowlist(), actor=group_account, activity=announce, inboxes=inboxes)


async def reject_post(
    session: AsyncSession,
    fed: Federation | None,
    group_account: Account,
    author: Account,
    activity: dict[str, Any],
) -> None:
    """Answer a post the author may not make in the group: a Reject whose object is it."""
    if fed is None or author.is_local:
        return
    uri = render.actor_uri(fed.settings, group_account)
    reject = render.simple(
        "Reject",
        f"{uri}#rejects/{new_id()}",
        uri,
        {k: v for k, v in activity.items() if k != "@context"},
        to=[author.uri or ""],
    )
    await enqueue(
        session,
        fed.allowlist(),
        actor=group_account,
        activity=reject,
        inboxes=[inbox_of(author, personal=True)],
    )
