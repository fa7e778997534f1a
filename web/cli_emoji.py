"""`flurfunk emoji add|list|remove`: the node's custom emoji from the command line.

Running nodes show a change within a few seconds (outbox.emoji_catalogue); the operator in the
audit log is `cli:<unix user>`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from models import emoji as stored
from models.db import Database
from models.settings import Settings
from outbox import custom_emoji
from outbox.emoji_images import MAX_BYTES
from web.cli_admin import CommandError, operator, run_on_database


def _read(path: str) -> bytes:
    file = Path(path)
    try:
        if file.stat().st_size > MAX_BYTES:
            raise CommandError(f"{path} is larger than {MAX_BYTES // 1024} KB")
        return file.read_bytes()
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None


def cmd_add(args: argparse.Namespace, settings: Settings) -> None:
    new = custom_emoji.NewEmoji(args.shortcode, _read(args.file), args.category)
    row = run_on_database(settings, lambda db: custom_emoji.add(db, settings, operator(), new))
    print(f"added :{row.shortcode}: ({row.content_type})")


def cmd_remove(args: argparse.Namespace, settings: Settings) -> None:
    code = args.shortcode.strip(":")
    run_on_database(settings, lambda db: custom_emoji.remove(db, settings, operator(), code))
    print(f"removed :{code}:")


def cmd_list(args: argparse.Namespace, settings: Settings) -> None:
    async def listing(db: Database) -> list[stored.CustomEmoji]:
        async with db.read() as session:
            return await stored.local_emojis(session)

    rows = run_on_database(settings, listing)
    if not rows:
        print("no custom emoji (add one with `flurfunk emoji add SHORTCODE FILE`)")
    for row in rows:
        print(f":{row.shortcode}:  {row.category or '-'}  {row.content_type}  {row.image_path}")


def add_emoji_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    emoji = commands.add_parser("emoji", help="the node's custom emoji (:shortcode: in posts)")
    sub = emoji.add_subparsers(dest="emoji_command", required=True)
    add = sub.add_parser(
        "add",
        help="add an emoji: a PNG, GIF or WebP image of at most 256 KB and 1024x1024 pixels",
    )
    add.add_argument("shortcode", help="2 to 64 letters, digits or underscores (no colons)")
    add.add_argument("file", help="the image file")
    add.add_argument("--category", help="where apps' emoji pickers list it")
    add.set_defaults(func=cmd_add)
    remove = sub.add_parser("remove", help="remove an emoji (posts then show :shortcode:)")
    remove.add_argument("shortcode")
    remove.set_defaults(func=cmd_remove)
    sub.add_parser("list", help="the node's emoji: shortcode, category, type, file").set_defaults(
        func=cmd_list
    )
