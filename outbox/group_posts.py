"""Posts addressed to a group, from this node's side: which group a draft is for, and how a
local member's post, edit or deletion travels (to the group's node, or relayed at once when
the group lives here), and how a local member's Like (and its Undo) of a post in a group
travels: to the group, which relays it to the members like a post.

A members-only group's posts get visibility "group" whatever the client asked for; so does
every post to a group of another node (whose rules this node does not know), so that a
members-only post can never leak into public timelines by a client's default.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.account import Account
from models.group import Group
from models.status import GROUP_ONLY, Status
from outbox import federate, group_relay, groups, note_documents, proof_keys, render
from outbox.content import MentionTarget
from outbox.context import Federation
from outbox.deliveries import inbox_of
from outbox.status_parts import InvalidStatus


async def audience_of(
    session: AsyncSession,
    author: Account,
    mentions: list[MentionTarget],
    parent: Status | None,
) -> Account | None:
    """The group a new post is for: its parent's, else the first group it mentions."""
    if parent is not None and parent.audience_id is not None:
        return await session.get(Account, parent.audience_id)
    ids = [m.account_id for m in mentions]
    if not ids:
        return None
    found = await session.scalars(select(Account).where(Account.id.in_(ids), Account.group))
    by_id = {a.id: a for a in found}
    return next((by_id[i] for i in ids if i in by_id), None)


async def address(
    session: AsyncSession, author: Account, status: Status, group: Account | None
) -> None:
    """Set the status's audience and visibility; a local group checks the right to post."""
    if group is None:
        return
    status.audience_id = group.id
    rules = await session.get(Group, group.id) if group.is_local else None
    if rules is not None and not await groups.may_post(session, rules, author.id):
        raise InvalidStatus(f"You may not post in the group {group.username}")
    if await is_public(session, group) and status.visibility in ("public", "unlisted"):
        return
    status.visibility = GROUP_ONLY


async def is_public(session: AsyncSession, group: Account) -> bool:
    """Whether posts in `group` may be public: a local group's as its rules say, a remote
    one's as its actor says; a group that does not say is members-only."""
    rules = await session.get(Group, group.id) if group.is_local else None
    visibility = rules.visibility if rules is not None else group.group_visibility
    return visibility == "public"


async def _signed(
    session: AsyncSession, fed: Federation, author: Account, activity: dict[str, Any]
) -> dict[str, Any]:
    return proof_keys.signed(render.actor_uri(fed.settings, author), author, activity)


async def _deliver(
    session: AsyncSession,
    fed: Federation,
    author: Account,
    status: Status,
    activity: dict[str, Any],
) -> None:
    """To the group's node; relayed at once when the group is ours. A public group's post
    also goes where a public post goes."""
    group = await session.get(Account, status.audience_id or 0)
    if group is None:
        return
    activity = await _signed(session, fed, author, activity)
    inboxes: list[str | None] = []
    if status.visibility != GROUP_ONLY:
        inboxes += await federate.status_audience(session, status)
    if group.is_local:
        rules = await session.get(Group, group.id)
        if rules is not None:
            await group_relay.relay(session, fed, group, rules, activity)
    else:
        inboxes.append(inbox_of(group, personal=True))
    await federate.send(session, fed, author, activity, sorted({i for i in inboxes if i}))


async def create(
    session: AsyncSession, fed: Federation | None, author: Account, status: Status
) -> None:
    if fed is None or not author.is_local:
        return
    note = await note_documents.note_document(session, fed.settings, status)
    await _deliver(session, fed, author, status, render.create(note))


async def update(
    session: AsyncSession, fed: Federation | None, author: Account, status: Status
) -> None:
    if fed is None or not author.is_local:
        return
    note = await note_documents.note_document(session, fed.settings, status)
    activity = render.update(note, status.edited_at or status.created_at)
    await _deliver(session, fed, author, status, activity)


async def delete(
    session: AsyncSession, fed: Federation | None, author: Account, status: Status
) -> None:
    if fed is None or not author.is_local:
        return
    note = await note_documents.note_document(session, fed.settings, status)
    activity = render.delete(note["attributedTo"], note["id"], note["to"], note["cc"])
    await _deliver(session, fed, author, status, activity)


async def like(
    session: AsyncSession,
    fed: Federation | None,
    actor: Account,
    status: Status,
    uri: str,
    *,
    undo: bool = False,
) -> None:
    """A local account's Like (or its Undo) of a post in a group: signed, to the group (relayed
    at once when the group is ours); a public group's post's remote author hears it directly
    too, as for any public post."""
    if fed is None or not actor.is_local:
        return
    author = await session.get(Account, status.account_id)
    group = await session.get(Account, status.audience_id or 0)
    if author is None or group is None:
        return
    group_uri = render.actor_uri(fed.settings, group)
    followers = group.followers_url or group_uri + "/followers"
    activity = render.with_context(
        {
            "id": uri,
            "type": "Like",
            "actor": render.actor_uri(fed.settings, actor),
            "object": render.status_uri(fed.settings, author, status),
            "audience": group_uri,
            "to": [followers],
            "cc": [group_uri],
        }
    )
    if undo:
        activity = render.undo(activity)
        activity["audience"] = group_uri
        activity["cc"] = [group_uri]
    activity = await _signed(session, fed, actor, activity)
    inboxes: list[str | None] = []
    if status.visibility != GROUP_ONLY and not author.is_local:
        inboxes.append(inbox_of(author, personal=True))
    if group.is_local:
        rules = await session.get(Group, group.id)
        if rules is not None:
            await group_relay.relay(session, fed, group, rules, activity)
    else:
        inboxes.append(inbox_of(group, personal=True))
    await federate.send(session, fed, actor, activity, sorted({i for i in inboxes if i}))
