"""`flurfunk user …` and `flurfunk node …`: the admin actions of outbox.user_admin and the
node's description, from the command line. The operator in the audit log is `cli:<unix user>`.

What these commands change takes effect in running nodes at once (every request reads users,
tokens and the node's description from the database); streams of a user whose sign-ins ended
close within web.token_watch's interval.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from federation.allowlist import Allowlist
from models import admin
from models import allowlist as stored_allowlist
from models.db import Database
from models.settings import Settings
from outbox import invites, moderation, user_admin
from outbox.accounts import AccountError, random_password
from outbox.media import remove_files
from outbox.user_admin import AdminError, Operator
from web.auth import hash_password

T = TypeVar("T")


ROLE_HELP = "user, moderator, admin, owner or a custom role (see `flurfunk role list`)"


class CommandError(Exception):
    """An operator mistake: printed without a traceback, exit status 2."""


def operator() -> Operator:
    return Operator("cli:" + (os.environ.get("SUDO_USER") or os.environ.get("USER") or "unknown"))


def run_on_database(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run `work` with the node's database; admin refusals become operator errors."""

    async def run() -> T:
        db = Database(settings.database_url, default_language=settings.default_language)
        try:
            return await work(db)
        except (AdminError, AccountError) as exc:
            raise CommandError(str(exc)) from None
        finally:
            await db.dispose()

    return asyncio.run(run())


def run_admin(
    settings: Settings, work: Callable[[AsyncSession], Awaitable[T]], *, read_only: bool = False
) -> T:
    """Run `work` in one write (or read) transaction; admin refusals become operator errors."""

    async def in_transaction(db: Database) -> T:
        async with db.read() if read_only else db.write() as session:
            return await work(session)

    return run_on_database(settings, in_transaction)


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Columns separated by at least two spaces (cells never contain two in a row)."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    return [
        "  ".join([*(cell.ljust(w) for cell, w in zip(r, widths, strict=False)), r[-1]]).rstrip()
        for r in [header, *rows]
    ]


# --- user ----------------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace, settings: Settings) -> None:
    users = run_admin(
        settings, lambda s: user_admin.list_users(s, args.search or ""), read_only=True
    )
    if not users:
        print("no local users" + (f" matching {args.search!r}" if args.search else ""))
        return
    rows = [
        [
            u.username,
            u.role,
            "suspended" if u.suspended_at else "disabled" if u.disabled else "active",
            u.email or "-",
            str(u.statuses_count),
            u.created_at.strftime("%Y-%m-%d"),
            u.last_used_at.strftime("%Y-%m-%d %H:%M") if u.last_used_at else "-",
        ]
        for u in users
    ]
    header = ["NAME", "ROLE", "STATE", "E-MAIL", "POSTS", "CREATED", "LAST ACTIVE"]
    for line in table(header, rows):
        print(line)


def cmd_create(args: argparse.Namespace, settings: Settings) -> None:
    generated = args.password is None and not args.password_stdin
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = args.password or random_password()
    if len(password) < 8:
        raise CommandError("the password must have at least 8 characters")
    password_hash = hash_password(password)

    async def create(session: AsyncSession) -> None:
        await user_admin.create_user(
            session,
            settings,
            operator(),
            username=args.name,
            password_hash=password_hash,
            email=args.email,
            role=args.role,
        )

    run_admin(settings, create)
    print(f"created {args.role} {args.name}")
    if generated:
        print(f"password: {password}")


def cmd_invite(args: argparse.Namespace, settings: Settings) -> None:
    if not 1 <= args.days <= 90:
        raise CommandError("--days must be between 1 and 90")

    async def invite(session: AsyncSession) -> invites.Issued:
        return await invites.invite_user(
            session,
            settings,
            operator(),
            username=args.name,
            email=args.email,
            role=args.role,
            lifetime=timedelta(days=args.days),
        )

    issued = run_admin(settings, invite)
    print(
        f"created {args.role} {args.name}; the invite link works once, "
        f"until {issued.expires_at:%Y-%m-%d %H:%M} UTC:"
    )
    print(issued.link(settings))


def cmd_suspend(args: argparse.Namespace, settings: Settings) -> None:
    async def suspend(session: AsyncSession) -> bool:
        account, _ = await user_admin.find(session, args.name)
        if account.suspended_at is not None:
            return False
        reason = args.reason or ""
        await moderation.act_on_account(session, operator(), account, "suspend", reason)
        return True

    changed = run_admin(settings, suspend)
    print(
        f"suspended {args.name}: they are notified and can only read why and appeal"
        if changed
        else f"{args.name} was suspended already"
    )


def cmd_disable(args: argparse.Namespace, settings: Settings) -> None:
    async def disable(session: AsyncSession) -> bool:
        account, user = await user_admin.find(session, args.name)
        if user.disabled:
            return False
        await moderation.act_on_account(session, operator(), account, "disable", args.reason or "")
        return True

    changed = run_admin(settings, disable)
    print(
        f"disabled {args.name}: their tokens, sessions and streams ended"
        if changed
        else f"{args.name} was disabled already"
    )


def cmd_enable(args: argparse.Namespace, settings: Settings) -> None:
    changed = run_admin(settings, lambda s: user_admin.enable(s, operator(), args.name))
    print(
        f"enabled {args.name}: they can sign in again"
        if changed
        else f"{args.name} was not disabled"
    )


def cmd_unsuspend(args: argparse.Namespace, settings: Settings) -> None:
    changed = run_admin(settings, lambda s: user_admin.unsuspend(s, operator(), args.name))
    print(
        f"unsuspended {args.name}: they can sign in again"
        if changed
        else f"{args.name} was not suspended"
    )


def cmd_role(args: argparse.Namespace, settings: Settings) -> None:
    before = run_admin(settings, lambda s: user_admin.set_role(s, operator(), args.name, args.role))
    if before == args.role:
        print(f"{args.name} is {args.role} already")
    else:
        print(f"{args.name}: {before} -> {args.role}")


def cmd_reset_password(args: argparse.Namespace, settings: Settings) -> None:
    password = random_password()
    password_hash = hash_password(password)
    ended = run_admin(
        settings, lambda s: user_admin.reset_password(s, operator(), args.name, password_hash)
    )
    print(f"new password for {args.name} (shown once); {ended} sign-in(s) ended:")
    print(password)


def _confirmed(name: str) -> bool:
    if not sys.stdin.isatty():
        raise CommandError("deleting cannot be undone: add --yes to confirm")
    answer = input(f"Delete {name} and everything they posted, on every node? Type the name: ")
    return answer.strip().lower() == name.strip().lower()


def cmd_delete(args: argparse.Namespace, settings: Settings) -> None:
    if not args.yes and not _confirmed(args.name):
        raise CommandError("not deleted: the name did not match")

    async def remove(session: AsyncSession) -> user_admin.Deleted:
        allowed = Allowlist(await stored_allowlist.patterns(session))
        return await user_admin.delete_user(session, settings, allowed, operator(), args.name)

    deleted = run_admin(settings, remove)
    remove_files(settings, deleted.media)
    print(
        f"deleted {deleted.account.username}; the Delete goes to {deleted.deliveries} "
        "node inbox(es); the name stays reserved"
    )


def add_user_commands(user: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    create = user.add_parser("create", help="create a local user")
    create.add_argument("name")
    secret = create.add_mutually_exclusive_group()
    secret.add_argument("--password")
    secret.add_argument("--password-stdin", action="store_true")
    create.add_argument("--email")
    create.add_argument("--role", default="user", help=ROLE_HELP)
    create.set_defaults(func=cmd_create)

    text = (
        "create a local user without a password and print a single-use invite link (last "
        "line) where they choose their own"
    )
    invite = user.add_parser("invite", help=text, description=text)
    invite.add_argument("name")
    invite.add_argument("--email")
    invite.add_argument("--role", default="user", help=ROLE_HELP)
    invite.add_argument("--days", type=int, default=7, help="how long the link works (default 7)")
    invite.set_defaults(func=cmd_invite)

    listing = user.add_parser("list", help="local users with role and state")
    listing.add_argument("--search", help="only names or e-mail addresses containing this")
    listing.set_defaults(func=cmd_list)

    for name, func, text in (
        (
            "suspend",
            cmd_suspend,
            "suspend a user: they can only sign in to read why (--reason) and appeal",
        ),
        ("disable", cmd_disable, "refuse a user's sign-ins: their tokens, sessions, streams end"),
    ):
        sub = user.add_parser(name, help=text, description=text)
        sub.add_argument("name", help="user name")
        sub.add_argument("--reason", help="what the user reads as the reason")
        sub.set_defaults(func=func)

    for name, func, text in (
        ("unsuspend", cmd_unsuspend, "lift a suspension"),
        ("enable", cmd_enable, "lift a disabling (the user signs in again)"),
        (
            "reset-password",
            cmd_reset_password,
            "set a random password, print it as the last line, end every sign-in",
        ),
    ):
        sub = user.add_parser(name, help=text, description=text)
        sub.add_argument("name", help="user name")
        sub.set_defaults(func=func)

    role = user.add_parser("role", help="change a user's role")
    role.add_argument("name", help="user name")
    role.add_argument("role", help=ROLE_HELP)
    role.set_defaults(func=cmd_role)

    text = (
        "delete a user: a Delete of the account goes to every node that knows it, their "
        "posts are removed here, the name stays reserved"
    )
    remove = user.add_parser("delete", help=text, description=text)
    remove.add_argument("name", help="user name")
    remove.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    remove.set_defaults(func=cmd_delete)


# --- node ----------------------------------------------------------------------------------


def cmd_node_show(args: argparse.Namespace, settings: Settings) -> None:
    async def show(session: AsyncSession) -> list[str]:
        values = await admin.node_settings(session)
        lines = [f"{key}: {values.get(key, '')}" for key in admin.NODE_KEYS]
        rules = await admin.rules(session)
        lines.append(f"rules: {len(rules)}")
        return lines

    for line in run_admin(settings, show, read_only=True):
        print(line)


def cmd_node_set(args: argparse.Namespace, settings: Settings) -> None:
    changes = {
        key: value
        for key, value in (
            ("name", args.name),
            ("description", args.description),
            ("contact_email", args.contact_email),
        )
        if value is not None
    }
    if not changes:
        raise CommandError("nothing to set: give --name, --description or --contact-email")
    if "@" not in changes.get("contact_email", "@") and changes["contact_email"]:
        raise CommandError(f"not an e-mail address: {changes['contact_email']!r}")

    async def store(session: AsyncSession) -> None:
        for key, value in changes.items():
            await admin.set_node_setting(session, key, value.strip())
            admin.record(session, operator().name, "node.set", key, value.strip())

    run_admin(settings, store)
    for key, value in changes.items():
        print(f"{key}: {value.strip()}" if value.strip() else f"{key}: (cleared)")


def cmd_rule_add(args: argparse.Namespace, settings: Settings) -> None:
    text = args.text.strip()
    if not text:
        raise CommandError("a rule needs some text")

    async def add(session: AsyncSession) -> int:
        rule = await admin.add_rule(session, text, (args.hint or "").strip())
        admin.record(session, operator().name, "node.rule_add", str(rule.id), text)
        return rule.id

    rule_id = run_admin(settings, add)
    print(f"added rule {rule_id}")
    print(rule_id)


def cmd_rule_remove(args: argparse.Namespace, settings: Settings) -> None:
    if not args.id.isdigit():
        raise CommandError(f"not a rule id: {args.id!r} (see `flurfunk node rule list`)")

    async def remove(session: AsyncSession) -> bool:
        rule = await admin.remove_rule(session, int(args.id))
        if rule is not None:
            admin.record(session, operator().name, "node.rule_remove", args.id, rule.text)
        return rule is not None

    if not run_admin(settings, remove):
        raise CommandError(f"no rule {args.id}")
    print(f"removed rule {args.id}")


def cmd_rule_list(args: argparse.Namespace, settings: Settings) -> None:
    rules = run_admin(settings, admin.rules, read_only=True)
    if not rules:
        print("no rules")
    for rule in rules:
        print(f"{rule.id}  {rule.text}" + (f"  ({rule.hint})" if rule.hint else ""))


def add_node_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    node = commands.add_parser(
        "node", help="what /api/v1/instance says about this node: name, contact, rules"
    )
    sub = node.add_subparsers(dest="node_command", required=True)
    sub.add_parser("show", help="the node's name, description and contact").set_defaults(
        func=cmd_node_show
    )
    setter = sub.add_parser("set", help="set the name, description or contact (empty clears)")
    setter.add_argument("--name", help="the node's title")
    setter.add_argument("--description", help="one paragraph about the node")
    setter.add_argument("--contact-email", help="where users turn to")
    setter.set_defaults(func=cmd_node_set)
    rule = sub.add_parser("rule", help="the node's rules").add_subparsers(
        dest="rule_command", required=True
    )
    add = rule.add_parser("add", help="add a rule; prints its id as the last line")
    add.add_argument("text")
    add.add_argument("--hint", help="a longer explanation")
    add.set_defaults(func=cmd_rule_add)
    remove = rule.add_parser("remove", help="remove a rule by its id")
    remove.add_argument("id")
    remove.set_defaults(func=cmd_rule_remove)
    rule.add_parser("list", help="the rules with their ids").set_defaults(func=cmd_rule_list)
