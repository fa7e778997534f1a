"""What staff do with announcements shown on this node: which they see now, reading
(dismissing) them, and reactions. Publishing, editing and withdrawing: outbox.announcements.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.announcement import (
    Announcement,
    AnnouncementMark,
    AnnouncementReaction,
)
from models.base import utcnow
from models.settings import Settings
from outbox import events
from outbox.announcements import AnnouncementError, NoSuchAnnouncement, is_group_member

REACTION = re.compile(r"^[^\s\x00-\x1f]{1,64}$")


def shown_here(row: Announcement, own: str, now: datetime) -> bool:
    if own not in row.hosts:
        return False
    if row.starts_at is not None and row.starts_at > now:
        return False
    return row.ends_at is None or row.ends_at > now


async def visible(session: AsyncSession, settings: Settings, viewer_id: int) -> list[Announcement]:
    """Announcements shown to a person now, oldest first (as Mastodon lists them)."""
    own, now = settings.domain.lower(), utcnow()
    current = select(Announcement).where(
        or_(Announcement.ends_at.is_(None), Announcement.ends_at > now)
    )
    rows = (await session.execute(current.order_by(Announcement.id))).scalars()
    return [r for r in rows if shown_here(r, own, now) and await shown_to(session, r, viewer_id)]


async def shown_to(session: AsyncSession, row: Announcement, viewer_id: int) -> bool:
    """Every local account sees announcements, except those to a group: its members only."""
    return row.group_uri is None or await is_group_member(session, row.group_uri, viewer_id)


async def for_viewer(
    session: AsyncSession, settings: Settings, viewer_id: int, *, with_read: bool = False
) -> list[tuple[Announcement, AnnouncementMark]]:
    """What a person sees, with their marks; recording that it was shown to them."""
    rows = await visible(session, settings, viewer_id)
    if not rows:
        return []
    marks = await _marks(session, viewer_id, [r.id for r in rows])
    now = utcnow()
    out = []
    for row in rows:
        mark = marks.get(row.id)
        if mark is None:
            mark = AnnouncementMark(
                announcement_id=row.id, account_id=viewer_id, seen_at=now, reported=False
            )
            session.add(mark)
        if with_read or mark.read_at is None:
            out.append((row, mark))
    await session.flush()
    return out


async def _marks(
    session: AsyncSession, viewer_id: int, ids: list[int]
) -> dict[int, AnnouncementMark]:
    query = select(AnnouncementMark).where(
        AnnouncementMark.account_id == viewer_id, AnnouncementMark.announcement_id.in_(ids)
    )
    return {m.announcement_id: m for m in (await session.execute(query)).scalars()}


async def shown(
    session: AsyncSession, settings: Settings, viewer_id: int, announcement_id: str
) -> Announcement:
    try:
        key = int(announcement_id)
    except ValueError:
        raise NoSuchAnnouncement() from None
    row = await session.get(Announcement, key)
    if row is None or not shown_here(row, settings.domain.lower(), utcnow()):
        raise NoSuchAnnouncement()
    if not await shown_to(session, row, viewer_id):
        raise NoSuchAnnouncement()
    return row


async def dismiss(
    session: AsyncSession, settings: Settings, viewer_id: int, announcement_id: str
) -> Announcement:
    """Read (acknowledged): reported home with the next read receipt."""
    row = await shown(session, settings, viewer_id, announcement_id)
    mark = (await _marks(session, viewer_id, [row.id])).get(row.id)
    now = utcnow()
    if mark is None:
        mark = AnnouncementMark(announcement_id=row.id, account_id=viewer_id, seen_at=now)
        session.add(mark)
    if mark.read_at is None:
        mark.read_at, mark.reported = now, False
    return row


async def react(
    session: AsyncSession,
    settings: Settings,
    viewer_id: int,
    announcement_id: str,
    name: str,
    *,
    add: bool,
) -> Announcement:
    row = await shown(session, settings, viewer_id, announcement_id)
    if not REACTION.match(name):
        raise AnnouncementError("Validation failed: Name is not a recognized emoji")
    where = (
        AnnouncementReaction.announcement_id == row.id,
        AnnouncementReaction.account_id == viewer_id,
        AnnouncementReaction.name == name,
    )
    existing = await session.scalar(select(AnnouncementReaction).where(*where))
    if add and existing is None:
        session.add(AnnouncementReaction(announcement_id=row.id, account_id=viewer_id, name=name))
    elif not add and existing is not None:
        await session.execute(delete(AnnouncementReaction).where(*where))
    else:
        return row
    events.announcement(session, "announcement.reaction", row.id, name)
    return row


@dataclass(frozen=True)
class Reaction:
    name: str
    count: int
    me: bool


async def reactions(
    session: AsyncSession, announcement_ids: list[int], viewer_id: int | None
) -> dict[int, list[Reaction]]:
    if not announcement_ids:
        return {}
    counted = await session.execute(
        select(
            AnnouncementReaction.announcement_id,
            AnnouncementReaction.name,
            func.count(),
            func.max(case((AnnouncementReaction.account_id == (viewer_id or 0), 1), else_=0)),
        )
        .where(AnnouncementReaction.announcement_id.in_(announcement_ids))
        .group_by(AnnouncementReaction.announcement_id, AnnouncementReaction.name)
        .order_by(AnnouncementReaction.name)
    )
    out: dict[int, list[Reaction]] = {}
    for announcement_id, name, count, mine in counted:
        out.setdefault(announcement_id, []).append(Reaction(name, int(count), bool(mine)))
    return out
