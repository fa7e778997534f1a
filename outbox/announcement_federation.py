"""How announcements travel between nodes, and how reads come back (docs/announcements.md).

An announcement is a public Note by its author with a `flurfunk:announcement` object that
says it is one (audience, nodes, times, acknowledgement); it goes to the shared inbox of every
other node in its audience, cc'd to their instance actors. A node that does not know the
extension sees an ordinary public post. Edits go as Update, withdrawal as Delete.

Each receiving node reports back in batches: a periodic job sends, per announcement whose
reads changed, one `Read` activity from the node's oldest admin to the author, carrying the
accounts that acknowledged since the last report and the current counts.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from federation.allowlist import Allowlist
from federation.jsonld import PUBLIC
from models.account import Account, User
from models.announcement import Announcement, AnnouncementHost, AnnouncementMark
from models.base import utcnow
from models.group import MODERATING, GroupRole
from models.ids import new_id
from models.relationship import Follow
from models.settings import Settings
from outbox import render
from outbox.deliveries import enqueue, inbox_of

NS = "https://flurfunk.dev/ns#"
EXTENSION = "flurfunk:announcement"
CONTEXT: list[Any] = [*render.CONTEXT, {"flurfunk": NS}]
ADMIN_ROLES = ("owner", "admin")


def iso(moment: datetime | None) -> str | None:
    """To the millisecond: the receiving node reads the same version back from it."""
    if moment is None:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def version(row: Announcement) -> str:
    """Names the version a read receipt is about: the moment of the last edit."""
    return iso(row.updated_at) or ""


async def oldest_admin(session: AsyncSession) -> Account | None:
    """The oldest local account with the admin (or owner) role; else the oldest local user."""
    for roles in (ADMIN_ROLES, None):
        query = (
            select(Account)
            .join(User, User.account_id == Account.id)
            .where(Account.domain.is_(None), User.disabled.is_(False))
            .order_by(User.created_at, Account.id)
            .limit(1)
        )
        if roles is not None:
            query = query.where(User.role.in_(roles))
        found = await session.scalar(query)
        if found is not None:
            return found
    return None


def staff() -> Select[int, str]:
    """Local accounts that can sign in: the people announcements are shown to."""
    return (
        select(Account.id, Account.username)
        .join(User, User.account_id == Account.id)
        .where(Account.domain.is_(None), Account.suspended_at.is_(None), User.disabled.is_(False))
    )


def instance_actor_of(settings: Settings, host: str) -> str:
    scheme = settings.public_url.split(":", 1)[0]
    return f"{scheme}://{host}/actor"


async def _inboxes(session: AsyncSession, settings: Settings, row: Announcement) -> list[str]:
    """The shared inbox of every other node in the audience: as a known account there names
    it, else the instance actor's (`/inbox`, as Flurfunk and Mastodon serve it)."""
    own = settings.domain.lower()
    scheme = settings.public_url.split(":", 1)[0]
    out = []
    for host in row.hosts:
        if host == own:
            continue
        known = await session.scalar(
            select(Account)
            .where(Account.domain == host, Account.shared_inbox_url.is_not(None))
            .limit(1)
        )
        out.append((known and inbox_of(known)) or f"{scheme}://{host}/inbox")
    return out


def note(settings: Settings, author: Account, row: Announcement) -> dict[str, Any]:
    own = settings.domain.lower()
    return {
        "id": row.uri,
        "type": "Note",
        "attributedTo": render.actor_uri(settings, author),
        "content": row.content,
        "source": {"content": row.text, "mediaType": "text/markdown"},
        "published": iso(row.published_at),
        "updated": iso(row.updated_at) if row.updated_at != row.published_at else None,
        "url": row.uri,
        "to": [PUBLIC],
        "cc": [instance_actor_of(settings, h) for h in row.hosts if h != own],
        EXTENSION: {
            "audience": row.audience,
            "nodes": list(row.hosts),
            "startTime": iso(row.starts_at),
            "endTime": iso(row.ends_at),
            "allDay": row.all_day,
            "acknowledgementRequired": row.requires_ack,
            "group": row.group_uri,
            "version": version(row),
        },
    }


def _document(activity: dict[str, Any]) -> dict[str, Any]:
    body = {k: v for k, v in activity.items() if v is not None}
    if isinstance(body.get("object"), dict):
        obj = {k: v for k, v in body["object"].items() if v is not None}
        if isinstance(obj.get(EXTENSION), dict):
            obj[EXTENSION] = {k: v for k, v in obj[EXTENSION].items() if v is not None}
        body["object"] = obj
    return {"@context": CONTEXT, **body}


async def _send(
    session: AsyncSession,
    settings: Settings,
    allowlist: Allowlist,
    author: Account,
    row: Announcement,
    kind: str,
    obj: dict[str, Any],
) -> int:
    inboxes = await _inboxes(session, settings, row)
    if not inboxes or not author.is_local:
        return 0
    stamp = version(row).replace(":", "").replace("-", "")
    activity = _document(
        {
            "id": f"{row.uri}#{kind.lower()}/{stamp}",
            "type": kind,
            "actor": render.actor_uri(settings, author),
            "published": iso(row.updated_at),
            "to": obj.get("to"),
            "cc": obj.get("cc"),
            "object": obj,
        }
    )
    return await enqueue(session, allowlist, actor=author, activity=activity, inboxes=inboxes)


async def send_note(
    session: AsyncSession,
    settings: Settings,
    allowlist: Allowlist,
    author: Account,
    row: Announcement,
    kind: str,
) -> int:
    """The announcement as it is now: `Create` when published, `Update` when edited."""
    return await _send(session, settings, allowlist, author, row, kind, note(settings, author, row))


async def send_delete(
    session: AsyncSession,
    settings: Settings,
    allowlist: Allowlist,
    author: Account,
    row: Announcement,
) -> int:
    tombstone = note(settings, author, row)
    obj = {"id": row.uri, "type": "Tombstone", "to": tombstone["to"], "cc": tombstone["cc"]}
    return await _send(session, settings, allowlist, author, row, "Delete", obj)


# --- read receipts: what a receiving node knows and sends ------------------------------------


async def local_reads(
    session: AsyncSession, settings: Settings, row: Announcement
) -> tuple[int, list[str], list[str], list[str]]:
    """(reached, acknowledged accts, not yet reported among them, staff who have not
    acknowledged) on this node; accts as name@host."""
    domain = settings.domain.lower()
    query = staff()
    if row.group_uri is not None:  # a group's announcement: its members here
        group_id = select(Account.id).where(Account.uri == row.group_uri).scalar_subquery()
        members = select(Follow.account_id).where(Follow.target_account_id == group_id)
        moderators = select(GroupRole.account_id).where(
            GroupRole.group_id == group_id, GroupRole.role.in_(MODERATING)
        )
        query = query.where(or_(Account.id.in_(members), Account.id.in_(moderators)))
    people = {int(r[0]): f"{r[1]}@{domain}" for r in (await session.execute(query)).all()}
    marks = (
        await session.execute(
            select(AnnouncementMark).where(AnnouncementMark.announcement_id == row.id)
        )
    ).scalars()
    reached, read, unreported = 0, [], []
    for mark in marks:
        acct = people.get(mark.account_id)
        if acct is None:
            continue
        reached += 1
        if mark.read_at is not None:
            read.append(acct)
            if not mark.reported:
                unreported.append(acct)
    done = set(read)
    missing = sorted(a for a in people.values() if a not in done)
    return reached, sorted(read), sorted(unreported), missing


async def report_reads(session: AsyncSession, settings: Settings, allowlist: Allowlist) -> int:
    """Send one Read per announcement from elsewhere whose reads changed since the last
    report; returns how many were queued."""
    sent = 0
    # Reads of an announcement that ended a day ago no longer change: nothing to report.
    recent = utcnow() - timedelta(days=1)
    rows = (
        await session.execute(
            select(Announcement).where(
                Announcement.local.is_(False),
                or_(Announcement.ends_at.is_(None), Announcement.ends_at > recent),
            )
        )
    ).scalars()
    reporter = None
    for row in list(rows):
        reached, read, unreported, missing = await local_reads(session, settings, row)
        summary = {
            "version": version(row),
            "reached": reached,
            "acknowledged": len(read),
            "not_acknowledged": missing if row.requires_ack else [],
        }
        if not unreported and row.reported == summary:
            continue
        author = await session.get(Account, row.account_id)
        reporter = reporter or await oldest_admin(session)
        if author is None or reporter is None:
            continue
        activity = _document(
            {
                "id": f"{render.actor_uri(settings, reporter)}#reads/{new_id()}",
                "type": "Read",
                "actor": render.actor_uri(settings, reporter),
                "to": [author.uri],
                "object": row.uri,
                EXTENSION: {
                    "version": summary["version"],
                    "reached": reached,
                    "acknowledged": len(read),
                    "acknowledgedBy": unreported,
                    "notAcknowledged": summary["not_acknowledged"],
                },
            }
        )
        await enqueue(
            session,
            allowlist,
            actor=reporter,
            activity=activity,
            inboxes=[inbox_of(author, personal=True)],
        )
        if unreported:
            await session.execute(
                update(AnnouncementMark)
                .where(
                    AnnouncementMark.announcement_id == row.id,
                    AnnouncementMark.read_at.is_not(None),
                )
                .values(reported=True)
            )
        row.reported = summary
        sent += 1
    return sent


# --- read receipts: what the announcing node makes of them -----------------------------------


async def receipts(session: AsyncSession, settings: Settings, row: Announcement) -> dict[str, Any]:
    """`{"nodes": [{"host", "reached", "acknowledged"}], "not_acknowledged": [{"acct"}]}`,
    the list only when acknowledgement is required."""
    own = settings.domain.lower()
    stored = {
        h.host: h
        for h in (
            await session.execute(
                select(AnnouncementHost).where(AnnouncementHost.announcement_id == row.id)
            )
        ).scalars()
    }
    nodes: list[dict[str, Any]] = []
    missing: list[str] = []
    for host in row.hosts:
        if host == own:
            reached, read, _, not_read = await local_reads(session, settings, row)
            nodes.append({"host": host, "reached": reached, "acknowledged": len(read)})
            missing += not_read
            continue
        remote = stored.get(host)
        if remote is None:
            nodes.append({"host": host, "reached": 0, "acknowledged": 0})
            continue
        nodes.append({"host": host, "reached": remote.reached, "acknowledged": remote.acknowledged})
        missing += remote.not_acknowledged
    answer: dict[str, Any] = {"nodes": nodes}
    if row.requires_ack:
        answer["not_acknowledged"] = [{"acct": a} for a in sorted(set(missing))]
    return answer
