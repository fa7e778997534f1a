"""`flurfunk policy set FILE.md | acceptances [--csv]`: the usage policy from the
command line; the operator in the audit log is `cli:<unix user>`."""

from __future__ import annotations

import argparse
from pathlib import Path

from models import policy as stored
from models.db import Database
from models.settings import Settings
from outbox import policy
from web.cli_admin import CommandError, operator, run_on_database


def cmd_set(args: argparse.Namespace, settings: Settings) -> None:
    try:
        text = Path(args.file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"cannot read {args.file}: {exc}") from None

    async def publish(db: Database) -> int:
        async with db.write() as session:
            return (await policy.publish(session, operator(), text)).version

    version = run_on_database(settings, publish)
    print(f"published version {version}")
    print(version)


def cmd_acceptances(args: argparse.Namespace, settings: Settings) -> None:
    async def read(db: Database) -> tuple[int, list[stored.Acceptance]]:
        async with db.read() as session:
            current = await stored.current(session)
            if current is None:
                raise CommandError("no usage policy has been published")
            return current.version, await stored.acceptances(session, current.version)

    version, people = run_on_database(settings, read)
    if args.csv:
        print(policy.acceptances_csv(people, version), end="")
        return
    for p in people:
        at = p.accepted_at.isoformat(timespec="seconds") if p.accepted_at else "not accepted"
        print(f"{p.username}\t{at}")
    pending = sum(1 for p in people if p.accepted_at is None)
    print(f"{pending} of {len(people)} have not accepted version {version}")


def add_policy_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("policy", help="the node's usage policy").add_subparsers(
        dest="policy_command", required=True
    )
    set_command = group.add_parser("set", help="publish FILE (Markdown) as a new version")
    set_command.add_argument("file", metavar="FILE.md")
    set_command.set_defaults(func=cmd_set)
    listing = group.add_parser("acceptances", help="who has and has not accepted it")
    listing.add_argument("--csv", action="store_true", help="as CSV")
    listing.set_defaults(func=cmd_acceptances)
