"""Custom roles on a real SQLite database: an operator holds exactly their role's
permissions, nobody hands out permissions they lack, and role changes are audited."""

from __future__ import annotations

import pytest

from models import admin
from outbox import roles, user_admin
from outbox.permissions import MissingPermission, NotPermitted, Operator, require
from tests.unit.models.test_admin_actions import CLI, create, database, write

__all__ = ["database"]  # the fixture, used by name


def test_built_in_roles_and_the_command_line() -> None:
    assert Operator("cli:ops").may("manage_roles")
    mod = Operator("mod", "moderator")
    assert mod.may("administer_users")
    with pytest.raises(MissingPermission, match="requires the permission manage_allowlist"):
        require(mod, "manage_allowlist")
    assert not Operator("ann", "user").permissions


def test_a_custom_role_gives_only_its_permissions(database: str) -> None:
    write(database, lambda s: roles.create_role(s, CLI, "hr", "administer_users"))
    hr_id = create(database, "hanna", "hr")
    boss = create(database, "boss", "admin")
    create(database, "ann")
    hr = write(database, lambda s: roles.operator_for(s, "hanna", "hr", hr_id))
    assert hr.permissions == {"administer_users"}

    assert write(database, lambda s: user_admin.suspend(s, hr, "ann"))
    with pytest.raises(NotPermitted):  # an admin holds more than hr does
        write(database, lambda s: user_admin.suspend(s, hr, "boss"))
    with pytest.raises(MissingPermission, match="manage_roles"):
        write(database, lambda s: user_admin.set_role(s, hr, "ann", "hr"))
    with pytest.raises(MissingPermission, match="manage_roles"):
        write(database, lambda s: roles.create_role(s, hr, "x", "announce"))

    # manage_roles without administer_users hands out no role it does not hold.
    write(database, lambda s: roles.create_role(s, CLI, "keeper", "manage_roles,administer_users"))
    keeper = Operator("kim", "keeper", boss + 1, frozenset({"manage_roles", "administer_users"}))
    with pytest.raises(NotPermitted, match="requires the permission"):
        write(database, lambda s: user_admin.set_role(s, keeper, "ann", "admin"))

    with pytest.raises(MissingPermission, match="manage_node"):  # nor widens a role
        write(database, lambda s: roles.create_role(s, keeper, "more", "manage_node"))
    keeper_role = write(database, lambda s: roles.custom_by_name(s, "keeper"))
    with pytest.raises(MissingPermission, match="manage_allowlist"):
        write(
            database,
            lambda s: roles.update_role(
                s, keeper, keeper_role, permissions=["manage_roles", "manage_allowlist"]
            ),
        )

    actions = [(e.action, e.target) for e in write(database, admin.audit_log)]
    assert ("role.create", "hr") in actions
    assert ("role.create", "keeper") in actions
