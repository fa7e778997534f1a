"""CSV for people who open it in a spreadsheet: every export the node offers as CSV (the
audit log, the usage policy's acceptances) is written here, so that none forgets the guard.

A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is read as a formula
by spreadsheet programs (CSV injection: a display name `=HYPERLINK(...)` would run in the
compliance officer's spreadsheet); such a cell gets a leading `'`, which they show as text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in FORMULA_STARTS else text


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([cell(v) for v in row])
    return out.getvalue()
