"""Reading Mastodon's export CSV files for import: following_accounts.csv (header
`Account address,Show boosts,Notify on new posts,Languages`), blocked_accounts.csv (one
address per line), muted_accounts.csv (`Account address,Hide notifications`) and
bookmarks.csv (one post URL per line).

The whole file is checked before anything is done: a file that is too large, not UTF-8,
not CSV, or has a row that is not an address (or URL) is refused with the line that is wrong,
and nothing changes.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from federation import values
from federation.values import InvalidValue

KINDS = ("following", "blocks", "mutes", "bookmarks")
MAX_BYTES = 256 * 1024
MAX_ROWS = 1000
ADDRESS = re.compile(r"^@?[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}(@[A-Za-z0-9.-]{1,253}(:\d{1,5})?)?$")
HEADER = "account address"


class ImportProblem(ValueError):
    """Why a file cannot be imported, fit to show to the person."""


@dataclass(frozen=True)
class Row:
    target: str  # `name@host` (or `name`) for accounts, a URL for bookmarks
    reblogs: bool = True
    notify: bool = False
    notifications: bool = True  # mutes: also hide notifications


def _flag(cell: str, default: bool) -> bool:
    value = cell.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    return default


def parse(kind: str, data: bytes) -> list[Row]:
    """The rows of a Mastodon CSV export of `kind`; ImportProblem for anything wrong."""
    if kind not in KINDS:
        raise ImportProblem(f"unknown kind of import {kind!r}: one of {', '.join(KINDS)}")
    if not data.strip():
        raise ImportProblem("the file is empty")
    if len(data) > MAX_BYTES:
        raise ImportProblem(f"the file is larger than {MAX_BYTES // 1024} KiB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportProblem("the file is not UTF-8 text") from None
    if "\x00" in text:
        raise ImportProblem("the file is not a CSV file")
    rows: list[Row] = []
    try:
        for number, cells in enumerate(csv.reader(io.StringIO(text), strict=True), start=1):
            if not cells or not any(c.strip() for c in cells):
                continue
            first = cells[0].strip()
            if number == 1 and first.lower() == HEADER:
                continue
            rows.append(_row(kind, number, first, cells))
            if len(rows) > MAX_ROWS:
                raise ImportProblem(f"the file has more than {MAX_ROWS} rows")
    except csv.Error as exc:
        raise ImportProblem(f"the file is not valid CSV: {exc}") from None
    if not rows:
        raise ImportProblem("the file lists nothing to import")
    return rows


def _row(kind: str, number: int, first: str, cells: list[str]) -> Row:
    if kind == "bookmarks":
        try:
            values.authority(first)  # an http(s) URL with a valid host and port
        except InvalidValue:
            raise ImportProblem(f"line {number}: not the URL of a post: {first[:80]!r}") from None
        return Row(first)
    if not ADDRESS.match(first):
        raise ImportProblem(f"line {number}: not an account address: {first[:80]!r}")
    target = first.lstrip("@")
    if kind == "following":
        reblogs = _flag(cells[1], True) if len(cells) > 1 else True
        notify = _flag(cells[2], False) if len(cells) > 2 else False
        return Row(target, reblogs=reblogs, notify=notify)
    if kind == "mutes":
        return Row(target, notifications=_flag(cells[1], True) if len(cells) > 1 else True)
    return Row(target)
