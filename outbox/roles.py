"""The node's roles: the built-in ones and custom ones (models.role), found by name, and
created, changed and deleted by those with `manage_roles`, each change in the audit log."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import admin
from models.account import User
from models.role import CustomRole
from outbox.permissions import (
    BUILT_IN,
    AdminError,
    MissingPermission,
    Operator,
    Role,
    parse_permissions,
    require,
)

ROLE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,15}$")
COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


class UnknownRole(AdminError):
    status = 404


def _role(row: CustomRole) -> Role:
    return Role(str(row.id), row.name, row.color, parse_permissions(row.permissions))


async def find_role(session: AsyncSession, name: str) -> Role | None:
    if name in BUILT_IN:
        return BUILT_IN[name]
    row = await session.scalar(select(CustomRole).where(CustomRole.name == name))
    return None if row is None else _role(row)


async def role_named(session: AsyncSession, name: str) -> Role:
    """The role called `name`; UnknownRole (422 for the one who asked) if there is none."""
    found = await find_role(session, name)
    if found is None:
        known = ", ".join(r.name for r in await all_roles(session))
        error = UnknownRole(f"unknown role {name!r}: one of {known}")
        error.status = 422
        raise error
    return found


async def all_roles(session: AsyncSession) -> list[Role]:
    custom = (await session.scalars(select(CustomRole).order_by(CustomRole.name))).all()
    return [*BUILT_IN.values(), *(_role(row) for row in custom)]


async def operator_for(
    session: AsyncSession, name: str, role: str, account_id: int | None
) -> Operator:
    """The operator for a signed-in person: their role's permissions, none for an unknown
    role (a role deleted under a running session)."""
    found = await find_role(session, role)
    return Operator(name, role, account_id, found.permissions if found else frozenset())


def _color(color: str) -> str:
    if color and not COLOR.match(color):
        raise AdminError(f"invalid colour {color!r}: use #RRGGBB")
    return color.lower()


def _may_grant(operator: Operator, granted: frozenset[str]) -> None:
    """Nobody makes a role with a permission they lack (or widens their own role with it)."""
    missing = sorted(granted - operator.permissions)
    if missing:
        raise MissingPermission(missing[0])


def _record(session: AsyncSession, operator: Operator, action: str, role: CustomRole) -> None:
    detail = f"permissions={role.permissions or '-'} color={role.color or '-'}"
    admin.record(
        session, operator.name, action, role.name, detail, operator_account_id=operator.account_id
    )


async def create_role(
    session: AsyncSession, operator: Operator, name: str, permissions: str, color: str = ""
) -> Role:
    require(operator, "manage_roles")
    if not ROLE_NAME.match(name):
        raise AdminError(
            f"invalid role name {name!r}: lower-case letters, digits, _ and - (at most 16)"
        )
    granted = parse_permissions(permissions)
    _may_grant(operator, granted)
    if await find_role(session, name) is not None:
        raise AdminError(f"the role {name!r} exists already")
    row = CustomRole(name=name, color=_color(color), permissions=",".join(sorted(granted)))
    session.add(row)
    await session.flush()
    _record(session, operator, "role.create", row)
    return _role(row)


async def _custom(session: AsyncSession, role_id: str) -> CustomRole:
    if any(role.id == role_id for role in BUILT_IN.values()):
        raise AdminError("a built-in role cannot be changed or deleted")
    row = None
    if role_id.isdigit() and len(role_id) <= 19:
        row = await session.get(CustomRole, int(role_id), with_for_update=True)
    if row is None:
        raise UnknownRole("Record not found")
    return row


async def custom_by_name(session: AsyncSession, name: str) -> str:
    """The id of the custom role called `name` (UnknownRole; AdminError for a built-in one)."""
    if name in BUILT_IN:
        raise AdminError(f"{name!r} is a built-in role and cannot be changed or deleted")
    row_id = await session.scalar(select(CustomRole.id).where(CustomRole.name == name))
    if row_id is None:
        raise UnknownRole(f"no role {name!r}")
    return str(row_id)


async def update_role(
    session: AsyncSession,
    operator: Operator,
    role_id: str,
    *,
    permissions: str | list[str] | None = None,
    color: str | None = None,
) -> Role:
    require(operator, "manage_roles")
    row = await _custom(session, role_id)
    if permissions is not None:
        granted = parse_permissions(permissions)
        _may_grant(operator, granted)
        row.permissions = ",".join(sorted(granted))
    if color is not None:
        row.color = _color(color)
    _record(session, operator, "role.change", row)
    await session.flush()
    return _role(row)


async def delete_role(session: AsyncSession, operator: Operator, role_id: str) -> Role:
    """Delete a custom role that nobody holds."""
    require(operator, "manage_roles")
    row = await _custom(session, role_id)
    holders = await session.scalar(
        select(func.count()).select_from(User).where(User.role == row.name)
    )
    if holders:
        raise AdminError(
            f"the role {row.name!r} is held by {holders} account(s): give them another first"
        )
    role = _role(row)
    _record(session, operator, "role.delete", row)
    await session.delete(row)
    await session.flush()
    return role
