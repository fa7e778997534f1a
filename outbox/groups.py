"""Groups (FEP-1b12): creating local groups, their members and roles, and relaying posts.

A group is a local account with `group` set and a `groups` row of rules. Its members are its
followers; `group_roles` holds owners, moderators and invitations. A post addressed to the
group reaches its node (as a Create, or directly when the author is local); if the author may
post there, the group Announces the unchanged activity to its members' nodes (one delivery per
node, through shared inboxes); otherwise the author gets a Reject whose object is the Create.

Other packages use `find_group` to look a group up by name and `member_inboxes` to reach its
members (announcements to a group).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from html import escape
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from federation.keys import generate_rsa_keypair
from models import admin
from models.account import Account
from models.base import utcnow
from models.group import (
    GROUP_VISIBILITIES,
    JOIN_POLICIES,
    MODERATING,
    POSTING_RIGHTS,
    ROLES,
    Group,
    GroupRole,
)
from models.ids import new_id
from models.relationship import Follow, FollowRequest
from models.settings import Settings
from models.status import GROUP_ONLY, Status
from outbox import relationship_activities, relationships, render
from outbox.accounts import USERNAME
from outbox.context import Federation
from outbox.deliveries import enqueue, follower_inboxes, inbox_of

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


class GroupError(ValueError):
    """Bad input for a group action (400/422)."""


class NotModerator(PermissionError):
    """Only the group's owners and moderators may do this (403)."""


@dataclass(frozen=True)
class Member:
    account: Account
    role: str  # owner | moderator | member | invited


# --- looking groups up ----------------------------------------------------------------------


async def find_group(session: AsyncSession, name: str) -> tuple[Account, Group] | None:
    """A local group by its name (case-insensitive) or by its account id given as digits."""
    query = select(Account, Group).join(Group, Group.account_id == Account.id)
    if name.isdigit() and len(name) <= 19:
        query = query.where(or_(Account.id == int(name), func.lower(Account.username) == name))
    else:
        query = query.where(func.lower(Account.username) == name.lower())
    row = (await session.execute(query.where(Account.domain.is_(None)))).first()
    return (row[0], row[1]) if row else None


async def local_groups(session: AsyncSession) -> list[tuple[Account, Group]]:
    rows = await session.execute(
        select(Account, Group).join(Group, Group.account_id == Account.id).order_by(Account.id)
    )
    return [(a, g) for a, g in rows.tuples()]


async def member_inboxes(session: AsyncSession, group_id: int) -> list[str]:
    """The inboxes that reach every remote member of a group: one per node where possible."""
    return await follower_inboxes(session, group_id)


async def local_member_ids(session: AsyncSession, group_id: int) -> list[int]:
    """The accounts of this node that are members of a (local or remote) group."""
    rows = await session.execute(
        select(Follow.account_id)
        .join(Account, Account.id == Follow.account_id)
        .where(Follow.target_account_id == group_id, Account.domain.is_(None))
    )
    return list(rows.scalars())


async def is_member(session: AsyncSession, group_id: int, account_id: int) -> bool:
    return (
        await session.scalar(
            select(Follow.id).where(
                Follow.account_id == account_id, Follow.target_account_id == group_id
            )
        )
    ) is not None


async def node_may_fetch(session: AsyncSession, status: Status, host: str) -> bool:
    """Whether the node `host` (a signed fetch's signer) may read a members-only group's
    post: the group's own node, and for a group of this node every node with a member."""
    if status.visibility != GROUP_ONLY or status.audience_id is None or not host:
        return False
    group = await session.get(Account, status.audience_id)
    if group is None or group.suspended_at is not None:
        return False
    if not group.is_local:
        return group.domain == host
    member = await session.scalar(
        select(Follow.id)
        .join(Account, Account.id == Follow.account_id)
        .where(Follow.target_account_id == group.id, Account.domain == host)
        .limit(1)
    )
    return member is not None


async def role_of(session: AsyncSession, group_id: int, account_id: int) -> str | None:
    """owner, moderator, member, invited, or None (no relation to the group)."""
    row = await session.get(GroupRole, (group_id, account_id))
    if row is not None:
        return row.role
    return "member" if await is_member(session, group_id, account_id) else None


async def may_moderate(session: AsyncSession, group_id: int, account_id: int) -> bool:
    return await role_of(session, group_id, account_id) in MODERATING


async def may_see(session: AsyncSession, group: Group, viewer_id: int | None) -> bool:
    """A members-only group is visible to its members and those invited; others see none."""
    if group.visibility == "public":
        return True
    if viewer_id is None:
        return False
    return await role_of(session, group.account_id, viewer_id) is not None


async def may_post(session: AsyncSession, group: Group, account_id: int) -> bool:
    role = await role_of(session, group.account_id, account_id)
    if group.posting == "moderators":
        return role in MODERATING
    return role in ("owner", "moderator", "member")


async def members(session: AsyncSession, group_id: int) -> list[Member]:
    """Everyone with a role: members (followers) and those invited, oldest first."""
    roles = {
        r.account_id: r.role
        for r in (
            await session.scalars(select(GroupRole).where(GroupRole.group_id == group_id))
        ).all()
    }
    followers = (
        await session.scalars(
            select(Account)
            .join(Follow, Follow.account_id == Account.id)
            .where(Follow.target_account_id == group_id)
            .order_by(Follow.id)
        )
    ).all()
    found = [Member(a, roles.get(a.id, "member")) for a in followers]
    seen = {a.id for a in followers}
    invited_ids = [i for i, role in roles.items() if role == "invited" and i not in seen]
    if invited_ids:
        invited = await session.scalars(
            select(Account).where(Account.id.in_(invited_ids)).order_by(Account.id)
        )
        found += [Member(a, "invited") for a in invited]
    return found


async def join_requests(session: AsyncSession, group_id: int) -> list[Account]:
    rows = await session.scalars(
        select(Account)
        .join(FollowRequest, FollowRequest.account_id == Account.id)
        .where(FollowRequest.target_account_id == group_id)
        .order_by(FollowRequest.id)
    )
    return list(rows.all())


async def moderated_group_ids(session: AsyncSession, account_id: int) -> list[int]:
    rows = await session.scalars(
        select(GroupRole.group_id).where(
            GroupRole.account_id == account_id, GroupRole.role.in_(MODERATING)
        )
    )
    return list(rows.all())


# --- the audit log ---------------------------------------------------------------------------


def audit(
    session: AsyncSession,
    by: str,
    by_account_id: int | None,
    action: str,
    group: Account,
    what: str = "",
    detail: str = "",
) -> None:
    """A moderator action on a group (`group.create`, `group.member_add`, …) in the audit log,
    in the caller's transaction. The target is `group:NAME`, then the member's acct or
    `status:ID` when the action is about one; `by` is the person's user name or `cli:USER`."""
    target = f"group:{group.username}" + (f" {what}" if what else "")
    admin.record(session, by, action, target[:255], detail, operator_account_id=by_account_id)


# --- creating and changing groups ------------------------------------------------------------


def _check_rules(visibility: str | None, join: str | None, posting: str | None) -> None:
    for value, allowed, name in (
        (visibility, GROUP_VISIBILITIES, "visibility"),
        (join, JOIN_POLICIES, "join"),
        (posting, POSTING_RIGHTS, "posting"),
    ):
        if value is not None and value not in allowed:
            raise GroupError(f"{name} must be one of {', '.join(allowed)}")


async def create_group(
    session: AsyncSession,
    settings: Settings,
    *,
    name: str,
    owner: Account,
    title: str = "",
    description: str = "",
    visibility: str = "public",
    join: str = "open",
    posting: str = "members",
) -> tuple[Account, Group]:
    """A new local group with `owner` as its owner and first member."""
    _check_rules(visibility, join, posting)
    if not USERNAME.match(name) or len(name) > 30:
        raise GroupError(f"invalid group name {name!r}: use letters, digits, _ . - (at most 30)")
    if not owner.is_local:
        raise GroupError("the owner must be an account of this node")
    taken = await session.scalar(
        select(func.count())
        .select_from(Account)
        .where(func.lower(Account.username) == name.lower(), Account.domain.is_(None))
    )
    if taken:
        raise GroupError(f"the name {name!r} is taken")
    if len(title) > 255 or len(description) > 5000:
        raise GroupError("the title or description is too long")
    private_pem, public_pem = await asyncio.to_thread(generate_rsa_keypair)
    actor = settings.url(f"/users/{name}")
    account = Account(
        username=name,
        domain=None,
        display_name=title or name,
        note=_paragraph(description),
        note_source=description,
        group=True,
        locked=join == "approval",
        uri=actor,
        url=settings.url(f"/@{name}"),
        inbox_url=actor + "/inbox",
        shared_inbox_url=settings.url("/inbox"),
        followers_url=actor + "/followers",
        public_key_pem=public_pem,
        private_key_pem=private_pem,
    )
    session.add(account)
    await session.flush()
    group = Group(account_id=account.id, visibility=visibility, join_policy=join, posting=posting)
    session.add(group)
    session.add(GroupRole(group_id=account.id, account_id=owner.id, role="owner"))
    await session.flush()
    await relationships.admit(session, owner, account)
    return account, group


def _paragraph(text: str) -> str:
    return f"<p>{escape(text)}</p>" if text.strip() else ""


async def update_group(
    session: AsyncSession,
    fed: Federation | None,
    account: Account,
    group: Group,
    *,
    title: str | None = None,
    description: str | None = None,
    visibility: str | None = None,
    join: str | None = None,
    posting: str | None = None,
) -> None:
    _check_rules(visibility, join, posting)
    before = (account.display_name, account.note, group.visibility, account.locked)
    if title is not None:
        if len(title) > 255:
            raise GroupError("the title is too long")
        account.display_name = title
    if description is not None:
        if len(description) > 5000:
            raise GroupError("the description is too long")
        account.note, account.note_source = _paragraph(description), description
    if visibility is not None:
        group.visibility = visibility
    if posting is not None:
        group.posting = posting
    if join is not None:
        group.join_policy = join
        account.locked = join == "approval"
        if join == "open":
            await relationships.authorize_all(session, account, fed=fed)
    if before != (account.display_name, account.note, group.visibility, account.locked):
        # The Update's id is made from updated_at: an unchanged one would repeat the last
        # Update's id, and member nodes would drop the change as a duplicate.
        account.updated_at = max(utcnow(), account.updated_at + timedelta(milliseconds=1))
        await session.flush()
        # Member nodes on other hosts address new posts to the group by its visibility
        # (docs/groups.md), and show its title, description and join policy.
        await relationship_activities.update_person(session, fed, account)
    await session.flush()


# --- members -------------------------------------------------------------------------------


def _membership_activity(
    settings: Settings, group: Account, kind: str, member: Account, collection: str
) -> dict[str, Any]:
    uri = render.actor_uri(settings, group)
    return render.with_context(
        {
            "id": f"{uri}#{kind.lower()}s/{new_id()}",
            "type": kind,
            "actor": uri,
            "object": render.actor_uri(settings, member),
            "target": f"{uri}/{collection}",
        }
    )


async def _tell(
    session: AsyncSession,
    fed: Federation | None,
    group: Account,
    kind: str,
    member: Account,
    collection: str = "followers",
) -> None:
    """Add or Remove of `member` for their own node (remote members only)."""
    if fed is None or member.is_local:
        return
    activity = _membership_activity(fed.settings, group, kind, member, collection)
    await enqueue(
        session, fed.allowlist(), actor=group, activity=activity, inboxes=[inbox_of(member)]
    )


async def add_member(
    session: AsyncSession,
    fed: Federation | None,
    group_account: Account,
    group: Group,
    member: Account,
    role: str = "member",
) -> str:
    """Add (or on an invite group: invite) `member`; their role afterwards."""
    if role not in ROLES or role == "invited":
        raise GroupError(f"role must be one of {', '.join(r for r in ROLES if r != 'invited')}")
    if member.group:
        raise GroupError("a group cannot be a member of a group")
    current = await role_of(session, group.account_id, member.id)
    if group.join_policy == "invite" and current in (None, "invited") and role == "member":
        if current is None:
            session.add(GroupRole(group_id=group.account_id, account_id=member.id, role="invited"))
            await session.flush()
        return "invited"
    await session.execute(
        delete(GroupRole).where(
            GroupRole.group_id == group.account_id, GroupRole.account_id == member.id
        )
    )
    if role in MODERATING:
        session.add(GroupRole(group_id=group.account_id, account_id=member.id, role=role))
    await session.flush()
    if await relationships.admit(session, member, group_account):
        await _tell(session, fed, group_account, "Add", member)
    return role


async def admit_member(
    session: AsyncSession, fed: Federation | None, group_account: Account, member: Account
) -> bool:
    """Make `member` a member at once, whatever the group's join rule (the company directory
    says so, outbox.group_map): an invitation or a join request becomes membership; owners
    and moderators keep their role. Whether they were not a member before."""
    if member.group:
        raise GroupError("a group cannot be a member of a group")
    await session.execute(
        delete(GroupRole).where(
            GroupRole.group_id == group_account.id,
            GroupRole.account_id == member.id,
            GroupRole.role == "invited",
        )
    )
    await session.flush()
    if await relationships.admit(session, member, group_account):
        await _tell(session, fed, group_account, "Add", member)
        return True
    return False


async def set_role(
    session: AsyncSession,
    fed: Federation | None,
    group_account: Account,
    group: Group,
    member: Account,
    role: str,
) -> str:
    if role not in ("owner", "moderator", "member"):
        raise GroupError("role must be one of owner, moderator, member")
    current = await role_of(session, group.account_id, member.id)
    if current in (None, "invited"):
        raise LookupError("not a member of this group")
    if current == "owner" and role != "owner":
        await _keep_an_owner(session, group.account_id, member.id)
    await add_member(session, fed, group_account, group, member, role)
    if (role in MODERATING) != (current in MODERATING):
        await _tell(
            session,
            fed,
            group_account,
            "Add" if role in MODERATING else "Remove",
            member,
            "moderators",
        )
    return role


async def _keep_an_owner(session: AsyncSession, group_id: int, leaving_id: int) -> None:
    others = await session.scalar(
        select(func.count())
        .select_from(GroupRole)
        .where(
            GroupRole.group_id == group_id,
            GroupRole.role == "owner",
            GroupRole.account_id != leaving_id,
        )
    )
    if not others:
        raise GroupError("a group keeps at least one owner")


async def remove_member(
    session: AsyncSession,
    fed: Federation | None,
    group_account: Account,
    member: Account,
) -> bool:
    """Remove a member (or withdraw an invitation or a join request) at once; their node
    hears a Remove from the members collection. Whether there was anything to remove."""
    role = await role_of(session, group_account.id, member.id)
    if role == "owner":
        await _keep_an_owner(session, group_account.id, member.id)
    had_role = (
        await session.execute(
            delete(GroupRole)
            .where(GroupRole.group_id == group_account.id, GroupRole.account_id == member.id)
            .returning(GroupRole.role)
        )
    ).first()
    was_member = await relationships.drop_follower(session, member, group_account)
    if was_member:
        await _tell(session, fed, group_account, "Remove", member)
    return was_member or had_role is not None
