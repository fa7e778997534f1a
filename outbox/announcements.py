"""Announcements: publishing, editing and withdrawing them (what staff do with them:
outbox.announcement_reads).

Who may publish: anyone whose role carries the permission `announce` (admins). The audience
is `company` (this node and every allowed node it knows, see `company_hosts`), `node` (this
node only), `nodes:HOST,HOST` or `group:NAME@HOST` (refused until groups exist). An edit
counts as a new version: everyone is asked to read it again. How an announcement travels and
how reads come back: outbox.announcement_federation and docs/announcements.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from federation.allowlist import Allowlist, PatternError, split_host_port
from models import admin
from models.account import Account
from models.announcement import (
    Announcement,
    AnnouncementHost,
    AnnouncementMark,
)
from models.base import utcnow
from models.federation import PeerHost
from models.ids import new_id
from models.relationship import Follow
from models.settings import Settings
from outbox import announcement_federation, content, events, groups
from outbox.permissions import AdminError, MissingPermission, NotPermitted, Operator, require

MAX_TEXT = 5000
HOST = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$")


class AnnouncementError(AdminError):
    """Bad input for an announcement (422) or no such announcement (404)."""


class NoSuchAnnouncement(AnnouncementError):
    status = 404

    def __init__(self) -> None:
        super().__init__("Record not found")


@dataclass(frozen=True)
class Audience:
    spec: str  # as given, normalised
    hosts: tuple[str, ...]  # host[:port] of every node it goes to, this one included if so
    group: Account | None = None  # group:NAME@HOST: the (local) group


@dataclass
class Draft:
    text: str
    audience: str = "company"
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    requires_ack: bool = False
    all_day: bool = False


# --- audience --------------------------------------------------------------------------------


def _host(text: str) -> str:
    host = text.strip().lower()
    if not HOST.match(host):
        raise AnnouncementError(f"invalid node {text.strip()!r} in the audience: use HOST[:PORT]")
    try:
        split_host_port(host)
    except PatternError as exc:
        raise AnnouncementError(f"invalid node {text.strip()!r}: {exc}") from None
    return host


async def company_hosts(session: AsyncSession, allowlist: Allowlist, own: str) -> list[str]:
    """Every node of the company this node knows: the hosts of remote accounts it has stored
    and of peers it has delivered to, each only while the allowlist allows it, and this node.

    An allowlist entry names hosts but not always ports, and a node nobody here has met yet
    cannot be reached by name alone; such nodes join the company's audience once someone
    here has looked up or followed anyone there."""
    found = {own}
    domains = select(Account.domain).distinct().where(Account.domain.is_not(None))
    for domain in (await session.execute(domains)).scalars():
        found.add(str(domain).lower())
    for host in (await session.execute(select(PeerHost.host))).scalars():
        found.add(host.lower())
    allowed = set()
    for host in found:
        try:
            name, port = split_host_port(host)
        except PatternError:
            continue
        if host == own or allowlist.allows(name, port):
            allowed.add(host)
    return sorted(allowed)


async def resolve_audience(
    session: AsyncSession, settings: Settings, allowlist: Allowlist, spec: str
) -> Audience:
    """The nodes an audience string names; AnnouncementError for anything else."""
    own = settings.domain.lower()
    text = spec.strip()
    if text == "company":
        return Audience("company", tuple(await company_hosts(session, allowlist, own)))
    if text == "node":
        return Audience("node", (own,))
    if text.startswith("nodes:"):
        hosts = [_host(h) for h in text[len("nodes:") :].split(",") if h.strip()]
        if not hosts:
            raise AnnouncementError("nodes: names no node: use nodes:HOST,HOST")
        for host in hosts:
            name, port = split_host_port(host)
            if host != own and not allowlist.allows(name, port):
                raise AnnouncementError(f"{host} is not on the allowlist")
        unique = tuple(dict.fromkeys(hosts))
        return Audience("nodes:" + ",".join(unique), unique)
    if text.startswith("group:"):
        return await _group_audience(session, allowlist, own, text)
    raise AnnouncementError(
        f"unknown audience {spec!r}: company, node, nodes:HOST,HOST or group:NAME@HOST"
    )


async def _group_audience(
    session: AsyncSession, allowlist: Allowlist, own: str, text: str
) -> Audience:
    """A group of this node: here and the nodes of its remote members (its followers)."""
    found = re.match(r"^group:([^@\s]+)@([^@\s]+)$", text)
    if not found:
        raise AnnouncementError("a group audience is group:NAME@HOST")
    name, host = found.group(1).lower(), found.group(2).lower()
    if host != own:
        raise AnnouncementError(
            f"announce to a group from its own node: {host} (this node is {own})"
        )
    local = await groups.find_group(session, name)
    if local is None:
        raise AnnouncementError(f"no group {name} on this node")
    group = local[0]
    domains = (
        select(Account.domain)
        .distinct()
        .join(Follow, Follow.account_id == Account.id)
        .where(Follow.target_account_id == group.id, Account.domain.is_not(None))
    )
    hosts = {own}
    for domain in (await session.execute(domains)).scalars():
        try:
            host_name, port = split_host_port(str(domain).lower())
        except PatternError:
            continue
        if allowlist.allows(host_name, port):
            hosts.add(str(domain).lower())
    return Audience(f"group:{group.username.lower()}@{own}", tuple(sorted(hosts)), group)


async def is_group_member(session: AsyncSession, group_uri: str, account_id: int) -> bool:
    """Whether a local account belongs to the group (follows it, or owns or moderates it)."""
    group = await session.scalar(select(Account).where(Account.uri == group_uri))
    if group is None:
        return False
    if await groups.is_member(session, group.id, account_id):
        return True
    return await groups.may_moderate(session, group.id, account_id)


# --- who may -------------------------------------------------------------------------------


def may_announce(operator: Operator) -> bool:
    return operator.may("announce")


def _check(draft: Draft, now: datetime, settings: Settings) -> str:
    """The rendered HTML of a valid draft; AnnouncementError otherwise."""
    text = draft.text.strip()
    if not text:
        raise AnnouncementError("text can't be blank")
    if len(text) > MAX_TEXT:
        raise AnnouncementError(f"text is too long (at most {MAX_TEXT} characters)")
    if draft.starts_at and draft.ends_at and draft.ends_at <= draft.starts_at:
        raise AnnouncementError("ends_at must be after starts_at")
    if draft.ends_at and draft.ends_at <= now:
        raise AnnouncementError("ends_at must be in the future")
    return content.render(text, public_url=settings.public_url, content_type=content.MARKDOWN).html


# --- publishing ----------------------------------------------------------------------------


async def publish(
    session: AsyncSession,
    settings: Settings,
    allowlist: Allowlist,
    operator: Operator,
    author: Account,
    draft: Draft,
) -> Announcement:
    """Store a new announcement and queue its delivery to every other node of its audience."""
    if not draft.audience.strip().startswith("group:"):
        require(operator, "announce")
    now = utcnow()
    html = _check(draft, now, settings)
    audience = await resolve_audience(session, settings, allowlist, draft.audience)
    if audience.group is not None and not operator.may("announce"):
        # Group moderators announce to their own group.
        moderates = operator.account_id is not None and await groups.may_moderate(
            session, audience.group.id, operator.account_id
        )
        if not moderates:
            raise MissingPermission("announce")
    row_id = new_id()
    row = Announcement(
        id=row_id,
        uri=settings.url(f"/announcements/{row_id}"),
        account_id=author.id,
        local=True,
        text=draft.text.strip(),
        content=html,
        audience=audience.spec,
        hosts=list(audience.hosts),
        group_uri=audience.group.uri if audience.group is not None else None,
        starts_at=draft.starts_at,
        ends_at=draft.ends_at,
        all_day=draft.all_day,
        requires_ack=draft.requires_ack,
        published_at=now,
        updated_at=now,
    )
    session.add(row)
    own = settings.domain.lower()
    for host in audience.hosts:
        if host != own:
            session.add(AnnouncementHost(announcement_id=row_id, host=host))
    await session.flush()
    await announcement_federation.send_note(session, settings, allowlist, author, row, "Create")
    admin.record(
        session,
        operator.name,
        "announcement.publish",
        str(row_id),
        audience.spec,
        operator_account_id=operator.account_id,
    )
    if own in audience.hosts:
        events.announcement(session, "announcement", row_id)
    return row


async def own_announcement(session: AsyncSession, announcement_id: str | int) -> Announcement:
    try:
        key = int(announcement_id)
    except ValueError:
        raise NoSuchAnnouncement() from None
    row = await session.get(Announcement, key)
    if row is None or not row.local:
        raise NoSuchAnnouncement()
    return row


def _may_change(operator: Operator, row: Announcement) -> None:
    if operator.account_id == row.account_id:
        return  # its author (who was allowed to publish it)
    if not operator.may("announce"):
        require(operator, "announce")
    if not operator.may("administer_users"):
        raise NotPermitted("Only its author or an admin may change this announcement")


def may_see_receipts(operator: Operator, row: Announcement) -> None:
    """Receipts are for the author and admins (who may change the announcement too)."""
    _may_change(operator, row)


async def edit(
    session: AsyncSession,
    settings: Settings,
    allowlist: Allowlist,
    operator: Operator,
    announcement_id: str | int,
    *,
    text: str | None = None,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    requires_ack: bool | None = None,
    audience: str | None = None,
) -> Announcement:
    """A new version: new text or times, everyone asked again to read it."""
    row = await own_announcement(session, announcement_id)
    _may_change(operator, row)
    if audience is not None and audience.strip() != row.audience:
        raise AnnouncementError("the audience of a published announcement cannot change")
    draft = Draft(
        text=row.text if text is None else text,
        audience=row.audience,
        starts_at=starts_at if starts_at is not None else row.starts_at,
        ends_at=ends_at if ends_at is not None else row.ends_at,
        requires_ack=row.requires_ack if requires_ack is None else requires_ack,
    )
    html = _check(draft, utcnow(), settings)
    row.text, row.content = draft.text.strip(), html
    row.starts_at, row.ends_at, row.requires_ack = (
        draft.starts_at,
        draft.ends_at,
        draft.requires_ack,
    )
    row.updated_at = max(utcnow(), row.updated_at + timedelta(milliseconds=1))
    await ask_again(session, row)
    await session.execute(
        update(AnnouncementHost)
        .where(AnnouncementHost.announcement_id == row.id)
        .values(acknowledged=0, acknowledged_by=[], not_acknowledged=[], reported_at=None)
    )
    author = await session.get(Account, row.account_id)
    assert author is not None
    await announcement_federation.send_note(session, settings, allowlist, author, row, "Update")
    admin.record(
        session,
        operator.name,
        "announcement.edit",
        str(row.id),
        operator_account_id=operator.account_id,
    )
    return row


async def ask_again(session: AsyncSession, row: Announcement) -> None:
    """After an edit: nobody has read this version yet."""
    await session.execute(
        update(AnnouncementMark)
        .where(AnnouncementMark.announcement_id == row.id)
        .values(read_at=None, reported=False)
    )
    row.reported = None
    events.announcement(session, "announcement", row.id)


async def withdraw(
    session: AsyncSession,
    settings: Settings,
    allowlist: Allowlist,
    operator: Operator,
    announcement_id: str | int,
) -> Announcement:
    row = await own_announcement(session, announcement_id)
    _may_change(operator, row)
    author = await session.get(Account, row.account_id)
    assert author is not None
    await announcement_federation.send_delete(session, settings, allowlist, author, row)
    admin.record(
        session,
        operator.name,
        "announcement.withdraw",
        str(row.id),
        operator_account_id=operator.account_id,
    )
    await remove(session, row)
    return row


async def remove(session: AsyncSession, row: Announcement) -> None:
    events.announcement(session, "announcement.delete", row.id)
    await session.delete(row)


async def published(session: AsyncSession) -> list[Announcement]:
    """What this node published, newest first."""
    query = select(Announcement).where(Announcement.local.is_(True)).order_by(Announcement.id)
    return list(reversed((await session.execute(query)).scalars().all()))
