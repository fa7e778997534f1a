"""Flurfunk group memberships that follow the company directory: `OIDC_GROUP_MAP` (the groups
claim, at every sign-in) and `SCIM_GROUP_MAP` (SCIM groups) map directory groups to groups of
this node.

For each group the map names, the directory is the truth: someone in a mapped directory group
becomes a member at once, whatever the group's join rule (an invitation or a join request
becomes membership); someone in none of the directory groups mapped to it stops being a plain
member. Owners and moderators are never removed by the map (they keep their role), and groups
the map does not name are never touched. A name the map gives that no group of this node has
is skipped with a warning: the sign-in or the SCIM call goes on. Each change writes its audit
entry (`group.member_add`, `group.member_remove`) in the caller's transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from sqlalchemy.ext.asyncio import AsyncSession

from models.account import Account
from outbox import groups

log = logging.getLogger("flurfunk.groups")


def wanted_groups(
    group_map: tuple[tuple[str, str], ...], directory_groups: Collection[str], any_case: bool
) -> dict[str, bool]:
    """Each group name the map names (lower case) and whether the person belongs in it, by
    the directory groups they are in (compared exactly, or in any case for SCIM)."""
    if any_case:
        directory_groups = {g.lower() for g in directory_groups}
    wanted: dict[str, bool] = {}
    for directory_group, name in group_map:
        key = name.lower()
        found = (directory_group.lower() if any_case else directory_group) in directory_groups
        wanted[key] = wanted.get(key, False) or found
    return wanted


async def follow_directory(
    session: AsyncSession,
    operator: str,
    member: Account,
    group_map: tuple[tuple[str, str], ...],
    directory_groups: Collection[str],
    *,
    any_case: bool = False,
) -> None:
    """Bring `member`'s memberships in the mapped groups in line with the directory."""
    if member.group or not group_map:
        return
    for name, belongs in wanted_groups(group_map, directory_groups, any_case).items():
        found = await groups.find_group(session, name)
        if found is None:
            log.warning("the group map names %r, which is no group of this node: skipped", name)
            continue
        group_account, _ = found
        role = await groups.role_of(session, group_account.id, member.id)
        if belongs and role in (None, "invited"):
            # Members are users of this node: no other node needs to hear of it.
            await groups.admit_member(session, None, group_account, member)
            groups.audit(
                session, operator, None, "group.member_add", group_account, member.username
            )
        elif not belongs and role == "member":
            await groups.remove_member(session, None, group_account, member)
            groups.audit(
                session, operator, None, "group.member_remove", group_account, member.username
            )
