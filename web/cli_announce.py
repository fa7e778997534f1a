"""`flurfunk announce`: publish an announcement from the command line (the same action as
POST /api/v1/flurfunk/announcements and the /announcements page)."""

from __future__ import annotations

import argparse
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from federation import values
from federation.allowlist import Allowlist
from federation.values import InvalidValue
from models import allowlist as stored_allowlist
from models.account import Account, User
from models.settings import Settings
from outbox import announcements, roles
from outbox.announcement_federation import oldest_admin
from outbox.permissions import Operator
from web.cli_admin import CommandError, operator, run_admin

AUDIENCE_HELP = "company, node, nodes:HOST,HOST or group:NAME@HOST (a group of this node)"


def _moment(text: str | None, name: str) -> datetime | None:
    if not text:
        return None
    try:
        return values.iso_datetime(text, name)
    except InvalidValue as exc:
        raise CommandError(str(exc)) from None


def cmd_announce(args: argparse.Namespace, settings: Settings) -> None:
    starts_at, ends_at = _moment(args.starts_at, "--starts-at"), _moment(args.ends_at, "--ends-at")

    async def publish(session: AsyncSession) -> str:
        if args.as_user:
            author = await session.scalar(
                select(Account).where(
                    Account.domain.is_(None), func.lower(Account.username) == args.as_user.lower()
                )
            )
        else:
            author = await oldest_admin(session)
        if author is None:
            raise CommandError(
                f"no local user {args.as_user!r}" if args.as_user else "no local admin to announce"
            )
        user = await session.get(User, author.id)
        role = await roles.find_role(session, user.role if user else "user")
        who = Operator(
            operator().name,
            user.role if user else "user",
            author.id,
            role.permissions if role else frozenset(),
        )
        allowed = Allowlist(await stored_allowlist.patterns(session))
        draft = announcements.Draft(
            text=args.text,
            audience=args.audience,
            starts_at=starts_at,
            ends_at=ends_at,
            requires_ack=args.require_ack,
        )
        row = await announcements.publish(session, settings, allowed, who, author, draft)
        return f"announced to {', '.join(row.hosts)} as {author.username}\n{row.id}"

    print(run_admin(settings, publish))


def add_announce_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    text = "publish an announcement to staff; prints its id as the last line"
    parser = commands.add_parser("announce", help=text, description=text)
    parser.add_argument("text", help="the announcement (Markdown)")
    parser.add_argument("--audience", required=True, help=AUDIENCE_HELP)
    parser.add_argument(
        "--as", dest="as_user", help="the author (default: the oldest account with the admin role)"
    )
    parser.add_argument("--require-ack", action="store_true", help="ask for 'I have read this'")
    parser.add_argument("--starts-at", help="ISO 8601; shown from then on")
    parser.add_argument("--ends-at", help="ISO 8601; shown until then")
    parser.set_defaults(func=cmd_announce)
