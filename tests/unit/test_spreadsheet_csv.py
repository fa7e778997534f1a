"""Every CSV export is safe to open in a spreadsheet: a cell that would start a formula is
shown as text, in the audit log and in the usage policy's acceptances alike."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from models.policy import Acceptance
from outbox import audit, policy


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_policy_acceptances_guard_against_formulas() -> None:
    people = [
        Acceptance("mallory", '=HYPERLINK("http://evil")@x.example', "user", None),
        Acceptance("anna", "anna@x.example", "admin", datetime(2026, 5, 1, tzinfo=UTC)),
    ]
    table = rows(policy.acceptances_csv(people, 3))
    assert table[0] == ["username", "email", "role", "version", "accepted", "accepted_at"]
    assert table[1] == ["mallory", '\'=HYPERLINK("http://evil")@x.example', "user", "3", "no", ""]
    assert table[2][1] == "anna@x.example"
    assert table[2][5] == "2026-05-01T00:00:00+00:00"


def test_audit_csv_guards_the_same_way() -> None:
    entry = {
        "id": "1",
        "created_at": "2026-05-01T00:00:00+00:00",
        "actor": "admin",
        "action": "user.suspend",
        "target": "+cmd",
        "reason": "@SUM(1+1)",
    }
    table = rows(audit.as_csv([entry]))
    assert table[1][4:] == ["'+cmd", "'@SUM(1+1)"]
    assert table[1][:4] == ["1", "2026-05-01T00:00:00+00:00", "admin", "user.suspend"]
