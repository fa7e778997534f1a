"""Reports and account warnings -> Mastodon's Report, AccountWarning and Appeal entities."""

from __future__ import annotations

from typing import Any

from models.account import Account
from models.moderation import AccountWarning, Appeal, Report
from web.api.serializers.entities import account, iso
from web.api.serializers.links import Links


def report(r: Report, target: Account, links: Links) -> dict[str, Any]:
    """Mastodon's Report, as the reporter (and an `admin.report` notification) shows it."""
    return {
        "id": str(r.id),
        "action_taken": r.action_taken_at is not None,
        "action_taken_at": iso(r.action_taken_at),
        "category": r.category,
        "comment": r.comment,
        "forwarded": r.forwarded,
        "created_at": iso(r.created_at),
        "status_ids": [str(i) for i in r.status_ids] or None,
        "rule_ids": [str(i) for i in r.rule_ids] or None,
        "target_account": account(target, links),
    }


def appeal(a: Appeal | None) -> dict[str, Any] | None:
    return None if a is None else {"text": a.text, "state": a.state}


def warning(
    w: AccountWarning, target: Account, found: Appeal | None, links: Links
) -> dict[str, Any]:
    """Mastodon's AccountWarning (plus `id` of its appeal and when an appeal lifted it)."""
    return {
        "id": str(w.id),
        "action": w.action,
        "text": w.text,
        "status_ids": [str(i) for i in w.status_ids],
        "target_account": account(target, links),
        "appeal": appeal(found),
        "created_at": iso(w.created_at),
        "flurfunk": {
            "appeal_id": str(found.id) if found else None,
            "lifted_at": iso(w.lifted_at),
        },
    }
