"""Which notifications form one group (Mastodon 4.3's grouped notifications).

Favourites and boosts of one status, and follows, that arrive within the same 12-hour window
share a group; every other notification is a group of its own. The key is computed from the
row itself (its type, status and id, which encodes its creation time), so no column has to be
kept in step and a key names the same rows on every read. Mastodon slides its window from the
group's first notification; fixed windows (UTC 00:00 and 12:00) may split a burst that
straddles a boundary, which is the price of needing no stored state.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import BigInteger, ColumnElement, String, and_, case, cast, literal

from models.notification import Notification

GROUPABLE = ("favourite", "reblog", "follow", "admin.sign_up")
BY_STATUS = ("favourite", "reblog")
WINDOW_MS = 12 * 3600 * 1000
_ID_PER_WINDOW = WINDOW_MS << 16  # ids are milliseconds << 16 | sequence

_KEY = re.compile(
    r"^(?:(?P<by_status>favourite|reblog)-(?P<status>\d{1,20})-(?P<window>\d{1,12})"
    r"|(?P<alone>follow|admin\.sign_up)-(?P<alone_window>\d{1,12})"
    r"|ungrouped-(?P<id>\d{1,20}))$"
)


def group_key(
    type: str, status_id: int | None, notification_id: int, grouped: Collection[str] = GROUPABLE
) -> str:
    """The key of one notification, as `group_sql` computes it in a query."""
    window = notification_id // _ID_PER_WINDOW
    if type in grouped and type in BY_STATUS and status_id is not None:
        return f"{type}-{status_id}-{window}"
    if type in grouped and type in GROUPABLE and type not in BY_STATUS:
        return f"{type}-{window}"
    return f"ungrouped-{notification_id}"


def group_sql(grouped: Collection[str] = GROUPABLE) -> ColumnElement[str]:
    """`group_key` as an SQL expression (SQLite and PostgreSQL alike)."""
    window = cast((Notification.id.expression.op("/")(literal(_ID_PER_WINDOW, BigInteger))), String)
    by_status = [t for t in BY_STATUS if t in grouped]
    alone = [t for t in GROUPABLE if t in grouped and t not in BY_STATUS]
    whens: list[tuple[ColumnElement[bool], ColumnElement[str]]] = []
    if by_status:
        whens.append(
            (
                and_(Notification.type.in_(by_status), Notification.status_id.is_not(None)),
                Notification.type + "-" + cast(Notification.status_id, String) + "-" + window,
            )
        )
    if alone:
        whens.append((Notification.type.in_(alone), Notification.type + "-" + window))
    ungrouped = literal("ungrouped-") + cast(Notification.id, String)
    if not whens:
        return ungrouped
    return case(*whens, else_=ungrouped)


@dataclass(frozen=True)
class GroupKey:
    """A parsed key: the condition its notifications meet."""

    text: str
    condition: ColumnElement[bool]


def parse_group_key(text: str) -> GroupKey | None:
    """The rows a key names; None for a key this node never hands out."""
    found = _KEY.match(text)
    if found is None:
        return None
    if found["id"] is not None:
        notification_id = int(found["id"])
        return (
            GroupKey(text, Notification.id == notification_id)
            if notification_id < 1 << 63
            else None
        )
    if found["by_status"] is not None:
        kind, window, status_id = found["by_status"], int(found["window"]), int(found["status"])
        if status_id >= 1 << 63:
            return None
        condition = and_(Notification.type == kind, Notification.status_id == status_id)
    else:
        kind, window = found["alone"], int(found["alone_window"])
        condition = Notification.type == kind
    start = window * _ID_PER_WINDOW
    if start >= 1 << 63:
        return None
    return GroupKey(
        text,
        and_(
            condition,
            Notification.id >= start,
            Notification.id < min(start + _ID_PER_WINDOW, (1 << 63) - 1),
        ),
    )
