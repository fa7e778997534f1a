"""The directory's groups (SCIM `/Groups`), kept as it sends them, and the roles their
members get: `SCIM_ROLE_MAP` maps group names (any case) to roles. Each change writes its
audit entry, and role changes go through outbox.user_admin.set_role with theirs.
`SCIM_GROUP_MAP` keeps members of the Flurfunk groups it names in step (outbox.group_map)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.account import Account, User
from models.base import utcnow
from models.scim import ScimGroup, ScimGroupMember
from models.settings import Settings
from outbox import scim, user_admin
from outbox.group_map import follow_directory
from outbox.permissions import AdminError, Operator
from outbox.roles import find_role
from outbox.scim import ScimProblem, record

MAX_GROUP_MEMBERS = 10_000


# --- groups --------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupFacts:
    display_name: str
    external_id: str | None = None
    members: tuple[int, ...] = ()  # account ids


@dataclass(frozen=True)
class Group:
    row: ScimGroup
    members: list[tuple[int, str]]  # (account id, user name)


async def find_group(session: AsyncSession, group_id: int) -> Group:
    row = await session.get(ScimGroup, group_id)
    if row is None:
        raise scim.not_found(f"Group {group_id}")
    return (await _with_members(session, [row]))[0]


async def list_groups(
    session: AsyncSession, *, display_name: str | None, offset: int, limit: int
) -> tuple[int, list[Group]]:
    where: list[Any] = []
    if display_name is not None:
        where.append(func.lower(ScimGroup.display_name) == display_name.lower())
    total = await session.scalar(select(func.count()).select_from(ScimGroup).where(*where))
    rows = (
        await session.scalars(
            select(ScimGroup).where(*where).order_by(ScimGroup.id).offset(offset).limit(limit)
        )
    ).all()
    return int(total or 0), await _with_members(session, list(rows))


async def _with_members(session: AsyncSession, rows: Sequence[ScimGroup]) -> list[Group]:
    found: dict[int, list[tuple[int, str]]] = {row.id: [] for row in rows}
    if rows:
        members = await session.execute(
            select(ScimGroupMember.group_id, Account.id, Account.username)
            .join(Account, Account.id == ScimGroupMember.account_id)
            .join(User, User.account_id == Account.id)  # an account deleted otherwise is gone
            .where(ScimGroupMember.group_id.in_(list(found)))
            .order_by(Account.id)
        )
        for group_id, account_id, name in members.all():
            found[group_id].append((account_id, name))
    return [Group(row, found[row.id]) for row in rows]


async def _check_group(session: AsyncSession, facts: GroupFacts, group_id: int | None) -> None:
    name = facts.display_name.strip()
    if not name or len(name) > 255:
        raise ScimProblem("displayName: 1 to 255 characters")
    if len(facts.members) > MAX_GROUP_MEMBERS:
        raise ScimProblem(f"members: at most {MAX_GROUP_MEMBERS}", "tooMany")
    query = select(ScimGroup.id).where(func.lower(ScimGroup.display_name) == name.lower())
    if group_id is not None:
        query = query.where(ScimGroup.id != group_id)
    if await session.scalar(query) is not None:
        raise scim.conflict(f"a group called {name!r} exists already")
    wanted = set(facts.members)
    known: set[int] = set()
    ids = sorted(wanted)
    for start in range(0, len(ids), 500):
        known |= set(
            (
                await session.scalars(
                    select(User.account_id).where(User.account_id.in_(ids[start : start + 500]))
                )
            ).all()
        )
    unknown = sorted(wanted - known)
    if unknown:
        raise ScimProblem(f"members: no user {unknown[0]} (members are users of this node)")


async def _set_members(session: AsyncSession, group_id: int, members: Iterable[int]) -> set[int]:
    """Make `members` the group's members; returns the accounts that joined or left."""
    before = set(
        (
            await session.scalars(
                select(ScimGroupMember.account_id).where(ScimGroupMember.group_id == group_id)
            )
        ).all()
    )
    after = set(members)
    for account_id in before - after:
        await session.execute(
            delete(ScimGroupMember).where(
                ScimGroupMember.group_id == group_id, ScimGroupMember.account_id == account_id
            )
        )
    for account_id in sorted(after - before):
        session.add(ScimGroupMember(group_id=group_id, account_id=account_id))
    await session.flush()
    return before ^ after


async def create_group(
    session: AsyncSession, settings: Settings, who: Operator, facts: GroupFacts
) -> Group:
    await _check_group(session, facts, None)
    row = ScimGroup(display_name=facts.display_name.strip(), external_id=facts.external_id)
    session.add(row)
    await session.flush()
    moved = await _set_members(session, row.id, facts.members)
    record(session, who, "scim.group_create", row.display_name, f"members={len(facts.members)}")
    await apply_roles(session, settings, who, moved)
    await apply_group_memberships(session, settings, who, moved)
    return await find_group(session, row.id)


async def update_group(
    session: AsyncSession, settings: Settings, who: Operator, group_id: int, facts: GroupFacts
) -> Group:
    group = await find_group(session, group_id)
    await _check_group(session, facts, group_id)
    row = group.row
    before = row.display_name
    row.display_name = facts.display_name.strip()
    row.external_id = facts.external_id
    row.updated_at = utcnow()
    moved = await _set_members(session, group_id, facts.members)
    detail = f"members={len(facts.members)} changed={len(moved)}"
    if before != row.display_name:
        detail += f" was={before}"
    record(session, who, "scim.group_change", row.display_name, detail)
    if before.lower() != row.display_name.lower():
        moved |= {account_id for account_id, _ in group.members}  # the group may map anew
    await apply_roles(session, settings, who, moved)
    await apply_group_memberships(session, settings, who, moved)
    return await find_group(session, group_id)


async def delete_group(
    session: AsyncSession, settings: Settings, who: Operator, group_id: int
) -> None:
    group = await find_group(session, group_id)
    moved = await _set_members(session, group_id, ())
    await session.delete(group.row)
    await session.flush()
    record(session, who, "scim.group_delete", group.row.display_name, f"members={len(moved)}")
    await apply_roles(session, settings, who, moved)
    await apply_group_memberships(session, settings, who, moved)


# --- Flurfunk groups from groups ---------------------------------------------------------


async def apply_group_memberships(
    session: AsyncSession, settings: Settings, who: Operator, account_ids: Iterable[int]
) -> None:
    """Make each of these users a member of the Flurfunk groups their SCIM groups map to, and
    no longer a plain member of mapped ones none of their SCIM groups maps to."""
    if not settings.scim_group_map:
        return
    for account_id in sorted(set(account_ids)):
        account = await session.get(Account, account_id)
        if account is None or await session.get(User, account_id) is None:
            continue
        names = (
            await session.scalars(
                select(ScimGroup.display_name)
                .join(ScimGroupMember, ScimGroupMember.group_id == ScimGroup.id)
                .where(ScimGroupMember.account_id == account_id)
            )
        ).all()
        await follow_directory(
            session, who.name, account, settings.scim_group_map, names, any_case=True
        )


# --- roles from groups ---------------------------------------------------------------------


async def apply_roles(
    session: AsyncSession, settings: Settings, who: Operator, account_ids: Iterable[int]
) -> None:
    """Give each of these users the role their mapped groups give (the one with the most
    permissions), or `user` when they left every mapped group and hold a mapped role. A role
    given by hand that no group maps (owner, a custom role) stays when the group's role
    gives no permission it lacks, and when its holder is in no mapped group."""
    role_map = {group.lower(): role for group, role in settings.scim_role_map}
    if not role_map:
        return
    mapped_roles = set(role_map.values())
    for account_id in sorted(set(account_ids)):
        user = await session.get(User, account_id)
        if user is None:
            continue
        names = (
            await session.scalars(
                select(ScimGroup.display_name)
                .join(ScimGroupMember, ScimGroupMember.group_id == ScimGroup.id)
                .where(ScimGroupMember.account_id == account_id)
            )
        ).all()
        wanted = await _strongest(
            session, [role_map[n.lower()] for n in names if n.lower() in role_map]
        )
        if wanted is None:
            if user.role not in mapped_roles:
                continue
            wanted = "user"
        elif user.role not in mapped_roles and await _covers(session, user.role, wanted):
            continue  # an owner in `admins` stays owner
        if wanted != user.role:
            account = await session.get(Account, account_id)
            assert account is not None
            try:
                await user_admin.set_role(session, who, account.username, wanted)
            except AdminError as exc:
                status = 400 if exc.status == 422 else exc.status
                raise ScimProblem(f"{account.username}: {exc}", "", status) from None


async def _covers(session: AsyncSession, held: str, wanted: str) -> bool:
    """Whether the role `held` has every permission of the role `wanted`."""
    mine, theirs = await find_role(session, held), await find_role(session, wanted)
    return mine is not None and theirs is not None and theirs.permissions <= mine.permissions


async def _strongest(session: AsyncSession, names: list[str]) -> str | None:
    best: tuple[int, str] | None = None
    for name in names:
        role = await find_role(session, name)
        if role is None:
            raise ScimProblem(
                f"FLURFUNK_SCIM_ROLE_MAP names the role {name!r}, which this node does not have"
            )
        if best is None or len(role.permissions) > best[0]:
            best = (len(role.permissions), name)
    return None if best is None else best[1]
