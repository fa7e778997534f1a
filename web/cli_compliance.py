"""`flurfunk watch …`, `flurfunk compliance reminder …` and `flurfunk audit export`: the
compliance team's tools from the command line. The operator in the audit log is
`cli:<unix user>`; every change and every export is recorded there."""

from __future__ import annotations

import argparse
import sys

from sqlalchemy.ext.asyncio import AsyncSession

from federation import values
from federation.allowlist import Allowlist
from federation.values import InvalidValue
from models import allowlist as stored_allowlist
from models.compliance import WatchTerm
from models.compliance import terms as stored_terms
from models.settings import Settings
from outbox import audit, reminder, watch
from web.cli_admin import CommandError, operator, run_admin


def _term_line(row: WatchTerm) -> str:
    flags = [f for f, on in (("regex", row.regex), ("hold", row.hold)) if on]
    extra = f"  [{', '.join(flags)}]" if flags else ""
    return f"{row.id}  {row.label}: {row.term}{extra}"


def cmd_watch_add(args: argparse.Namespace, settings: Settings) -> None:
    async def add(session: AsyncSession) -> str:
        row = await watch.add_term(
            session, operator(), args.term, args.label, is_regex=args.regex, hold=args.hold
        )
        return _term_line(row)

    line = run_admin(settings, add)
    print(line)
    print(line.split()[0])


def cmd_watch_list(args: argparse.Namespace, settings: Settings) -> None:
    rows = run_admin(settings, stored_terms, read_only=True)
    if not rows:
        print("no watch terms", file=sys.stderr)
    for row in rows:
        print(_term_line(row))


def _id(text: str, what: str) -> int:
    try:
        return values.row_id(text, what)
    except InvalidValue as exc:
        raise CommandError(str(exc)) from None


def cmd_watch_remove(args: argparse.Namespace, settings: Settings) -> None:
    term_id = _id(args.id, "the term id")

    async def remove(session: AsyncSession) -> str:
        return _term_line(await watch.remove_term(session, operator(), term_id))

    print("removed " + run_admin(settings, remove))


def cmd_watch_release(args: argparse.Namespace, settings: Settings) -> None:
    status_id = _id(args.status_id, "the status id")

    async def release(session: AsyncSession) -> None:
        allowed = Allowlist(await stored_allowlist.patterns(session))
        await watch.release(session, operator(), status_id, settings, allowed)

    run_admin(settings, release)
    print(f"released {status_id}")


def cmd_reminder_set(args: argparse.Namespace, settings: Settings) -> None:
    async def store(session: AsyncSession) -> bool:
        return await reminder.set_reminder(session, operator(), args.text)

    changed = run_admin(settings, store)
    print("reminder set" if changed else "reminder unchanged")


def cmd_reminder_clear(args: argparse.Namespace, settings: Settings) -> None:
    async def clear(session: AsyncSession) -> bool:
        return await reminder.set_reminder(session, operator(), "")

    print("reminder cleared" if run_admin(settings, clear) else "no reminder was set")


def cmd_reminder_show(args: argparse.Namespace, settings: Settings) -> None:
    text = run_admin(settings, reminder.reminder, read_only=True)
    print(text if text else "no reminder is set")


def cmd_audit_export(args: argparse.Namespace, settings: Settings) -> None:
    since = None
    if args.since:
        try:
            since = values.iso_datetime(args.since, "--since")
        except InvalidValue as exc:
            raise CommandError(str(exc)) from None

    async def export(session: AsyncSession) -> str:
        return await audit.export(session, operator(), args.format, since)

    sys.stdout.write(run_admin(settings, export))


def add_compliance_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser(
        "watch", help="compliance watch terms: posts that match raise a report"
    ).add_subparsers(dest="watch_command", required=True)
    add = group.add_parser("add", help="watch for TERM; prints the term and its id last")
    add.add_argument("term", help="a word or phrase, or a regular expression with --regex")
    add.add_argument("--label", required=True, help='what it watches for ("financial results")')
    add.add_argument("--regex", action="store_true", help="TERM is a regular expression")
    add.add_argument("--hold", action="store_true", help="keep matching local posts back")
    add.set_defaults(func=cmd_watch_add)
    group.add_parser("list", help="the terms, one per line, id first").set_defaults(
        func=cmd_watch_list
    )
    remove = group.add_parser("remove", help="stop watching for a term")
    remove.add_argument("id")
    remove.set_defaults(func=cmd_watch_remove)
    release = group.add_parser("release", help="let a held post go to its readers and nodes")
    release.add_argument("status_id")
    release.set_defaults(func=cmd_watch_release)

    compliance = commands.add_parser("compliance", help="the confidentiality reminder")
    sub = compliance.add_subparsers(dest="compliance_command", required=True)
    text = sub.add_parser("reminder", help="the reminder shown above the composer and to apps")
    actions = text.add_subparsers(dest="reminder_command", required=True)
    setter = actions.add_parser("set", help="set the reminder text")
    setter.add_argument("text")
    setter.set_defaults(func=cmd_reminder_set)
    actions.add_parser("clear", help="remove the reminder").set_defaults(func=cmd_reminder_clear)
    actions.add_parser("show", help="print the reminder").set_defaults(func=cmd_reminder_show)

    audit_group = commands.add_parser("audit", help="the audit log").add_subparsers(
        dest="audit_command", required=True
    )
    exporting = audit_group.add_parser("export", help="write the audit log to stdout")
    exporting.add_argument("--since", help="only entries from this time on (ISO 8601)")
    exporting.add_argument("--format", choices=audit.FORMATS, default="json")
    exporting.set_defaults(func=cmd_audit_export)
