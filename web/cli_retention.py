"""`flurfunk retention …`, `flurfunk hold …` and `flurfunk export account|group …`: what the
compliance team does from the command line (the same actions as /api/v1/flurfunk/retention,
/legal_holds and /exports, with the same audit entries)."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from pathlib import Path

from models.db import Database
from models.retention import RULE_VISIBILITIES
from models.settings import Settings
from outbox import events, investigation, legal_holds, retention
from outbox.archive import Window
from outbox.legal_holds import Hold
from outbox.permissions import AdminError, Operator
from web.cli_admin import CommandError, operator, run_admin, run_on_database, table


def cmd_retention_set(args: argparse.Namespace, settings: Settings) -> None:
    rule = run_admin(
        settings, lambda s: retention.set_rule(s, operator(), args.days, args.visibility)
    )
    print(f"retention: {rule.visibility} posts older than {rule.days} day(s) are deleted")


def cmd_retention_show(args: argparse.Namespace, settings: Settings) -> None:
    found = run_admin(settings, retention.rules, read_only=True)
    if not found:
        print("no retention rules: posts are kept")
        return
    rows = [[r.visibility, str(r.days), r.updated_at.strftime("%Y-%m-%d %H:%M")] for r in found]
    for line in table(["VISIBILITY", "DAYS", "SET"], rows):
        print(line)


def cmd_retention_clear(args: argparse.Namespace, settings: Settings) -> None:
    removed = run_admin(settings, lambda s: retention.clear_rules(s, operator(), args.visibility))
    print(f"removed {removed} retention rule(s)")


def cmd_retention_sweep(args: argparse.Namespace, settings: Settings) -> None:
    try:
        now = retention.parse_instant(args.as_of, "--as-of") if args.as_of else None
    except AdminError as exc:
        raise CommandError(str(exc)) from None

    async def sweep(db: Database) -> int:
        from web.runtime import build_federation  # here: the delivery stack loads only when needed

        fed = await build_federation(settings, db)
        try:
            return await retention.sweep_now(fed, operator(), now)
        finally:
            await fed.client.aclose()
            await events.disconnect(db)

    deleted = run_on_database(settings, sweep)
    print(f"deleted {deleted} post(s)")
    print(deleted)


def _print_holds(found: list[Hold]) -> None:
    if not found:
        print("no legal holds")
        return
    rows = [
        [h.target, h.created_at.strftime("%Y-%m-%d %H:%M"), h.operator, h.reason] for h in found
    ]
    for line in table(["HELD", "SINCE", "BY", "REASON"], rows):
        print(line)


def cmd_hold_add(args: argparse.Namespace, settings: Settings) -> None:
    hold = run_admin(
        settings,
        lambda s: legal_holds.add_hold(s, settings, operator(), args.target, args.reason),
    )
    print(f"legal hold on {hold.target}: nothing of theirs is erased until it is removed")


def cmd_hold_remove(args: argparse.Namespace, settings: Settings) -> None:
    hold = run_admin(
        settings, lambda s: legal_holds.remove_hold(s, settings, operator(), args.target)
    )
    print(f"legal hold on {hold.target} removed")


def cmd_hold_list(args: argparse.Namespace, settings: Settings) -> None:
    _print_holds(run_admin(settings, legal_holds.list_holds, read_only=True))


def cmd_export_account(args: argparse.Namespace, settings: Settings) -> None:
    _export(args, settings, investigation.export_account)


def cmd_export_group(args: argparse.Namespace, settings: Settings) -> None:
    _export(args, settings, investigation.export_group)


def _export(
    args: argparse.Namespace,
    settings: Settings,
    exporter: Callable[[Database, Settings, Operator, str, Window, Path], Awaitable[int]],
) -> None:
    try:
        window = Window(
            retention.parse_instant(args.since, "--since") if args.since else None,
            retention.parse_instant(args.until, "--until") if args.until else None,
        )
    except AdminError as exc:
        raise CommandError(str(exc)) from None
    out = Path(args.out)
    if not out.parent.is_dir():
        raise CommandError(f"no such folder: {out.parent}")
    partial = out.with_name(out.name + ".part")

    async def export(db: Database) -> int:
        return await exporter(db, settings, operator(), args.name, window, partial)

    try:
        size = run_on_database(settings, export)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    print(f"exported {args.name} to {out} ({size} bytes)")
    print(out)


def _days(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of days: {text!r}") from None


def add_retention_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    kept = commands.add_parser("retention", help="how long posts are kept")
    sub = kept.add_subparsers(dest="retention_command", required=True)
    set_rule = sub.add_parser(
        "set", help="delete posts older than N days (one rule per visibility)"
    )
    set_rule.add_argument(
        "--days", type=_days, required=True, help="0 or more; 0: all older than now"
    )
    set_rule.add_argument(
        "--visibility",
        default="all",
        choices=RULE_VISIBILITIES,
        help="the posts the rule applies to; all: every visibility without its own rule",
    )
    set_rule.set_defaults(func=cmd_retention_set)
    sub.add_parser("show", help="the rules").set_defaults(func=cmd_retention_show)
    clear = sub.add_parser("clear", help="remove the rules (posts are kept again)")
    clear.add_argument("--visibility", choices=RULE_VISIBILITIES, help="only this rule")
    clear.set_defaults(func=cmd_retention_clear)
    sweep = sub.add_parser(
        "sweep", help="apply the rules now; prints how many posts were deleted (last line)"
    )
    sweep.add_argument("--as-of", help="ISO 8601 time that counts as now")
    sweep.set_defaults(func=cmd_retention_sweep)

    hold = commands.add_parser(
        "hold", help="legal holds: nothing of a held account or group is erased"
    )
    holds = hold.add_subparsers(dest="hold_command", required=True)
    add = holds.add_parser(
        "add", help="put an account, or a local group (group:NAME), under legal hold"
    )
    add.add_argument("target", metavar="NAME[@HOST]|group:NAME")
    add.add_argument("--reason", required=True)
    add.set_defaults(func=cmd_hold_add)
    remove = holds.add_parser("remove", help="lift a legal hold")
    remove.add_argument("target", metavar="NAME[@HOST]|group:NAME")
    remove.set_defaults(func=cmd_hold_remove)
    holds.add_parser("list", help="the holds").set_defaults(func=cmd_hold_list)

    export = commands.add_parser("export", help="exports for investigations (audited)")
    exports = export.add_subparsers(dest="export_command", required=True)
    account = exports.add_parser(
        "account",
        help="everything of an account (direct messages and held posts included) as a zip "
        "with a SHA-256 manifest; prints the file as the last line",
    )
    account.add_argument("name", metavar="NAME[@HOST]")
    account.add_argument("--since", help="ISO 8601: only what was created at or after it")
    account.add_argument("--until", help="ISO 8601: only what was created before it")
    account.add_argument("--out", required=True, help="the zip file to write")
    account.set_defaults(func=cmd_export_account)
    group = exports.add_parser(
        "group",
        help="everything posted in a local group (held posts included), its members and "
        "attachments as a zip with a SHA-256 manifest; prints the file as the last line",
    )
    group.add_argument("name", metavar="NAME")
    group.add_argument("--since", help="ISO 8601: only what was created at or after it")
    group.add_argument("--until", help="ISO 8601: only what was created before it")
    group.add_argument("--out", required=True, help="the zip file to write")
    group.set_defaults(func=cmd_export_group)
