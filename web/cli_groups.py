"""`flurfunk group create|list|add-member|remove-member`: groups (FEP-1b12) from the command
line. Remote members (USER@HOST) are looked up over WebFinger; their nodes hear an Add or a
Remove through the delivery rows that `serve` (or `worker`) sends."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy import func, select

from inbox.dereference import resolve_handle
from models.account import Account
from models.db import Database
from models.group import GROUP_VISIBILITIES, JOIN_POLICIES, POSTING_RIGHTS
from models.settings import Settings
from outbox import groups
from outbox.context import Federation
from web.cli_admin import CommandError, operator, run_on_database
from web.runtime import build_federation

T = TypeVar("T")


async def _account(fed: Federation, handle: str) -> Account:
    """A local account by name, or a remote one by user@host (resolved if need be)."""
    name, _, host = handle.lstrip("@").partition("@")
    if host and host.lower() != fed.settings.domain.lower():
        account = await resolve_handle(fed, f"{name}@{host}")
        if account is None:
            raise CommandError(f"no account {handle} could be found")
        return account
    async with fed.db.read() as session:
        account = await session.scalar(
            select(Account).where(
                func.lower(Account.username) == name.lower(), Account.domain.is_(None)
            )
        )
    if account is None or account.group:
        raise CommandError(f"no local user {name!r}")
    return account


def _with_federation(settings: Settings, work: Callable[[Federation], Awaitable[T]]) -> T:
    """Run `work` with a federation context (resolving handles, queuing deliveries)."""

    async def run(db: Database) -> T:
        fed = await build_federation(settings, db)
        try:
            return await work(fed)
        except (groups.GroupError, LookupError) as exc:
            raise CommandError(str(exc)) from None
        finally:
            await fed.client.aclose()

    return run_on_database(settings, run)


def cmd_create(args: argparse.Namespace, settings: Settings) -> None:
    async def create(fed: Federation) -> int:
        owner = await _account(fed, args.owner)
        if not owner.is_local:
            raise CommandError("the owner must be a user of this node")
        async with fed.db.write() as session:
            owner = await session.get(Account, owner.id) or owner
            account, _ = await groups.create_group(
                session,
                settings,
                name=args.name,
                owner=owner,
                title=args.title or "",
                description=args.description or "",
                visibility=args.visibility,
                join=args.join,
                posting=args.posting,
            )
            groups.audit(
                session,
                operator().name,
                None,
                "group.create",
                account,
                detail=f"owner={owner.acct()} visibility={args.visibility} join={args.join} "
                f"posting={args.posting}",
            )
            return account.id

    group_id = _with_federation(settings, create)
    print(f"created group {args.name}@{settings.domain}")
    print(group_id)


def cmd_list(args: argparse.Namespace, settings: Settings) -> None:
    async def listing(fed: Federation) -> list[str]:
        async with fed.db.read() as session:
            lines = []
            for account, group in await groups.local_groups(session):
                count = sum(
                    1 for m in await groups.members(session, account.id) if m.role != "invited"
                )
                lines.append(
                    f"{account.username}\t{account.display_name}\t{group.visibility}\t"
                    f"{group.join_policy}\t{group.posting}\t{count} members"
                )
            return lines

    for line in _with_federation(settings, listing):
        print(line)


def _member_command(adding: bool) -> Callable[[argparse.Namespace, Settings], None]:
    def command(args: argparse.Namespace, settings: Settings) -> None:
        async def change(fed: Federation) -> str:
            member = await _account(fed, args.user)
            async with fed.db.write() as session:
                found = await groups.find_group(session, args.name)
                if found is None:
                    raise CommandError(f"no group {args.name!r} on this node")
                account, group = found
                member = await session.get(Account, member.id) or member
                who = operator().name
                if adding:
                    role = await groups.add_member(session, fed, account, group, member)
                    action = "group.member_invite" if role == "invited" else "group.member_add"
                    groups.audit(session, who, None, action, account, member.acct(), role)
                    return role
                if not await groups.remove_member(session, fed, account, member):
                    raise CommandError(f"{args.user} is not a member of {args.name}")
                groups.audit(session, who, None, "group.member_remove", account, member.acct())
                return "removed"

        outcome = _with_federation(settings, change)
        print(f"{args.user}: {outcome}")

    return command


def add_group_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("group", help="groups (FEP-1b12) of this node").add_subparsers(
        dest="group_command", required=True
    )
    create = group.add_parser("create", help="create a group; prints its account id last")
    create.add_argument("name", metavar="NAME")
    create.add_argument("--owner", required=True, metavar="USER")
    create.add_argument("--title", metavar="T")
    create.add_argument("--description", metavar="TEXT")
    create.add_argument("--visibility", choices=GROUP_VISIBILITIES, default="public")
    create.add_argument("--join", choices=JOIN_POLICIES, default="open")
    create.add_argument("--posting", choices=POSTING_RIGHTS, default="members")
    create.set_defaults(func=cmd_create)
    group.add_parser("list", help="the groups of this node").set_defaults(func=cmd_list)
    add = group.add_parser(
        "add-member", help="add USER (on an invite group: invite; they join by following)"
    )
    add.add_argument("name", metavar="NAME")
    add.add_argument("user", metavar="USER[@HOST]")
    add.set_defaults(func=_member_command(True))
    remove = group.add_parser("remove-member", help="remove USER at once")
    remove.add_argument("name", metavar="NAME")
    remove.add_argument("user", metavar="USER[@HOST]")
    remove.set_defaults(func=_member_command(False))
