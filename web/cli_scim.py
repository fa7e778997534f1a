"""`flurfunk scim token`: a bearer token for the company directory's SCIM client (web.scim).

Only the token's SHA-256 digest is stored; the token is printed once, as the last line.
Its label names the directory in the audit log (`scim:LABEL`).
"""

from __future__ import annotations

import argparse

from sqlalchemy.ext.asyncio import AsyncSession

from models.settings import Settings
from outbox import scim
from web.auth import digest, new_token
from web.cli_admin import operator, run_admin


def cmd_scim_token(args: argparse.Namespace, settings: Settings) -> None:
    token = new_token()

    async def add(session: AsyncSession) -> str:
        row = await scim.add_token(session, operator(), args.name, digest(token))
        return row.name

    label = run_admin(settings, add)
    print(f"SCIM token {label!r} (shown once; the directory sends it as a bearer token to")
    print(f"{settings.url('/scim/v2')}):")
    print(token)


def add_scim_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    scim_command = commands.add_parser("scim", help="provisioning from the company directory")
    sub = scim_command.add_subparsers(dest="scim_command", required=True)
    text = "create a bearer token for the directory's SCIM client; prints it as the last line"
    token = sub.add_parser("token", help=text, description=text)
    token.add_argument(
        "--name", default="directory", help="label shown in the audit log as scim:LABEL"
    )
    token.set_defaults(func=cmd_scim_token)
