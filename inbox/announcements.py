"""Announcements from other nodes (docs/announcements.md): a Note carrying the
`flurfunk:announcement` extension, shown to this node's staff when this node is one of its
`nodes`; its Update is a new version (read again), its Delete a withdrawal; and the `Read`
receipts that nodes send back about this node's own announcements."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from inbox.dispatch import Incoming
from inbox.parse import Unusable, authority, text, timestamp, uri_of
from models.announcement import Announcement, AnnouncementHost
from models.base import utcnow
from models.ids import new_id
from outbox import announcements, content
from outbox.announcement_federation import EXTENSION, version

MAX_NODES = 1000
MAX_ACCTS = 100_000


def extension(document: Any) -> dict[str, Any] | None:
    if not isinstance(document, dict):
        return None
    found = document.get(EXTENSION)
    return found if isinstance(found, dict) else None


def _hosts(value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_NODES:
        raise Unusable("an announcement's nodes are a list of hosts")
    return [str(h).strip().lower() for h in value if isinstance(h, str) and h.strip()]


async def by_uri(incoming: Incoming, uri: str | None) -> Announcement | None:
    if not uri:
        return None
    return await incoming.session.scalar(select(Announcement).where(Announcement.uri == uri))


async def received(incoming: Incoming, document: dict[str, Any], *, edit: bool) -> None:
    """Store (or revise) an announcement addressed to this node; others are not ours."""
    marker = extension(document)
    assert marker is not None
    own = incoming.fed.settings.domain.lower()
    hosts = _hosts(marker.get("nodes"))
    if own not in hosts:
        return  # for other nodes: nothing to show here
    uri = uri_of(document)
    if uri is None:
        raise Unusable("the announcement has no id")
    body = content.sanitise(text(document.get("content")))
    if not body.strip():
        raise Unusable("the announcement is empty")
    starts_at, ends_at = timestamp(marker.get("startTime")), timestamp(marker.get("endTime"))
    if starts_at and ends_at and ends_at <= starts_at:
        raise Unusable("the announcement ends before it starts")
    published = timestamp(document.get("published")) or utcnow()
    updated = timestamp(document.get("updated")) or published
    row = await by_uri(incoming, uri)
    if row is not None and row.account_id != incoming.actor.id:
        raise Unusable("only its author may change an announcement")
    if row is None:
        row = Announcement(
            id=new_id(), uri=uri, account_id=incoming.actor.id, local=False, published_at=published
        )
        incoming.session.add(row)
    elif not edit or updated <= row.updated_at:
        return  # a copy we have, or an older version than ours
    row.content = body
    row.audience = text(marker.get("audience"), 1000) or "nodes"
    row.hosts = hosts
    row.starts_at, row.ends_at = starts_at, ends_at
    row.all_day = marker.get("allDay") is True
    row.requires_ack = marker.get("acknowledgementRequired") is True
    group = marker.get("group")
    if group is not None and not (isinstance(group, str) and authority(group) == authority(uri)):
        raise Unusable("an announcement's group lives on the announcing node")
    row.group_uri = group
    row.updated_at = updated
    await incoming.session.flush()
    await announcements.ask_again(incoming.session, row)


async def withdrawn(incoming: Incoming, uri: str) -> bool:
    """A Delete of an announcement: gone here too. False when `uri` names none."""
    row = await by_uri(incoming, uri)
    if row is None:
        return False
    if row.account_id != incoming.actor.id:
        raise Unusable("only its author may withdraw an announcement")
    await announcements.remove(incoming.session, row)
    return True


def _accts(value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_ACCTS:
        raise Unusable("a read receipt lists accounts as name@host")
    return [str(a) for a in value if isinstance(a, str) and "@" in a]


def _count(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise Unusable("a read receipt counts with non-negative integers")
    return value


async def read_receipt(incoming: Incoming) -> None:
    """A node in the audience reports who there has read one of our announcements."""
    marker = extension(incoming.activity)
    if marker is None:
        raise Unusable("a Read without flurfunk:announcement means nothing here")
    row = await by_uri(incoming, uri_of(incoming.object))
    if row is None or not row.local:
        raise Unusable("a read receipt for an announcement this node did not publish")
    host = (incoming.actor.domain or "").lower()
    if host not in row.hosts or host == incoming.fed.settings.domain.lower():
        raise Unusable(f"{host} is not in the announcement's audience")
    if marker.get("version") != version(row):
        return  # about an earlier version: everyone was asked again since
    acknowledged_by = _accts(marker.get("acknowledgedBy", []))
    if any(not a.lower().endswith("@" + host) for a in acknowledged_by):
        raise Unusable("a node reports reads of its own accounts only")
    stored = await incoming.session.get(AnnouncementHost, (row.id, host))
    if stored is None:
        stored = AnnouncementHost(announcement_id=row.id, host=host, acknowledged_by=[])
        incoming.session.add(stored)
    stored.reached = _count(marker.get("reached"))
    stored.acknowledged = _count(marker.get("acknowledged"))
    stored.acknowledged_by = sorted(set(stored.acknowledged_by or []) | set(acknowledged_by))
    missing = _accts(marker.get("notAcknowledged", []))
    stored.not_acknowledged = sorted(a for a in missing if a.lower().endswith("@" + host))
    stored.reported_at = utcnow()
