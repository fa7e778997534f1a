"""`flurfunk role …`: the node's roles and their permissions, from the command line (the
same actions as /admin/roles and /api/v1/flurfunk/roles, with the same audit entries)."""

from __future__ import annotations

import argparse

from sqlalchemy.ext.asyncio import AsyncSession

from models.settings import Settings
from outbox import roles
from outbox.permissions import PERMISSIONS, Role
from web.cli_admin import operator, run_admin, table


def cmd_role_create(args: argparse.Namespace, settings: Settings) -> None:
    created = run_admin(
        settings,
        lambda s: roles.create_role(s, operator(), args.name, args.permissions, args.color or ""),
    )
    print(f"created role {created.name}: {', '.join(sorted(created.permissions)) or '-'}")
    print(created.id)


def cmd_role_list(args: argparse.Namespace, settings: Settings) -> None:
    found: list[Role] = run_admin(settings, roles.all_roles, read_only=True)
    rows = [
        [
            r.name,
            "built-in" if r.built_in else "custom",
            r.color or "-",
            ",".join(p for p in PERMISSIONS if p in r.permissions) or "-",
        ]
        for r in found
    ]
    for line in table(["NAME", "KIND", "COLOUR", "PERMISSIONS"], rows):
        print(line)


def cmd_role_delete(args: argparse.Namespace, settings: Settings) -> None:
    async def remove(session: AsyncSession) -> Role:
        role_id = await roles.custom_by_name(session, args.name)
        return await roles.delete_role(session, operator(), role_id)

    print(f"deleted role {run_admin(settings, remove).name}")


def add_role_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    role = commands.add_parser("role", help="roles and the permissions they give")
    sub = role.add_subparsers(dest="role_command", required=True)
    create = sub.add_parser("create", help="create a custom role; prints its id as the last line")
    create.add_argument("name", help="lower-case letters, digits, _ and - (at most 16)")
    create.add_argument(
        "--permissions", required=True, help="comma-separated: " + ",".join(PERMISSIONS)
    )
    create.add_argument("--color", help="#RRGGBB shown next to the role")
    create.set_defaults(func=cmd_role_create)
    sub.add_parser("list", help="every role with its permissions").set_defaults(func=cmd_role_list)
    delete = sub.add_parser("delete", help="delete a custom role that nobody holds")
    delete.add_argument("name")
    delete.set_defaults(func=cmd_role_delete)
