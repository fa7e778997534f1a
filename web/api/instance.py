"""What a client learns about the node before and right after login: /api/v1 and /api/v2
instance, its peers, activity, rules and descriptions. All public: a token is not needed and
not even looked at, so an app holding a revoked token can still find out where it is.

The version string starts with the Mastodon API version we implement, because clients pick
endpoints by it: Mastodon.py cuts at the first space and needs exactly X.Y.Z. We say 4.3.0,
and `api_versions: {"mastodon": 2}` in v2, since grouped notifications (the API version 2
feature that 4.3 apps switch to) and the link timeline exist.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, distinct, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from federation.allowlist import Allowlist, PatternError, split_host_port
from models import admin, allowlist, policy
from models.ids import id_for_time
from models.settings import Settings
from models.tables import AccessToken, Account, Status, User
from outbox.filetypes import supported_types
from outbox.interactions import MAX_PINS
from outbox.media import MAX_DESCRIPTION
from outbox.policy import policy_rules
from outbox.push_subscriptions import vapid_key
from outbox.reminder import KEY as REMINDER_KEY
from outbox.status_parts import MAX_MEDIA
from web.api import serializers
from web.api.base import ok
from web.node import node_of

MASTODON_API_VERSION = "4.3.0"
API_VERSIONS = {"mastodon": 2}
SOFTWARE_VERSION = "0.1.0"
VERSION = f"{MASTODON_API_VERSION} (compatible; Flurfunk {SOFTWARE_VERSION})"
TITLE = "Flurfunk"
LANGUAGES = ["de", "en"]
SOURCE_URL = ""  # not published anywhere yet
ACTIVITY_WEEKS = 12


@dataclass(frozen=True)
class Usage:
    users: int
    active_month: int
    active_halfyear: int
    local_posts: int
    domains: int


def _local_users() -> ColumnElement[bool]:
    return and_(
        Account.domain.is_(None),
        Account.suspended_at.is_(None),
        User.disabled.is_(False),
    )


async def _active_since(session: AsyncSession, since: datetime) -> int:
    """Local users who posted or signed in (got or used a token) since `since`."""
    signed_in = exists(
        select(AccessToken.id).where(
            AccessToken.account_id == Account.id,
            or_(AccessToken.created_at >= since, AccessToken.last_used_at >= since),
        )
    )
    query = (
        select(func.count())
        .select_from(Account)
        .join(User, User.account_id == Account.id)
        .where(_local_users(), or_(Account.last_status_at >= since.date(), signed_in))
    )
    return int(await session.scalar(query) or 0)


async def node_usage(session: AsyncSession) -> Usage:
    """The figures /api/v1/instance `stats`, v2 `usage` and NodeInfo `usage` report."""
    now = datetime.now(UTC)
    users = await session.scalar(
        select(func.count())
        .select_from(Account)
        .join(User, User.account_id == Account.id)
        .where(_local_users())
    )
    posts = await session.scalar(
        select(func.count())
        .select_from(Status)
        .where(Status.local.is_(True), Status.reblog_of_id.is_(None))
    )
    domains = await session.scalar(
        select(func.count(distinct(Account.domain))).where(Account.domain.is_not(None))
    )
    return Usage(
        users=int(users or 0),
        active_month=await _active_since(session, now - timedelta(days=30)),
        active_halfyear=await _active_since(session, now - timedelta(days=180)),
        local_posts=int(posts or 0),
        domains=int(domains or 0),
    )


async def _federation(session: AsyncSession) -> dict[str, Any]:
    """Which nodes this one exchanges posts with (DESIGN §5: clients learn it here)."""
    return {"allowlist": await allowlist.patterns(session)}


async def _contact(session: AsyncSession) -> tuple[Account | None, str]:
    """The first admin: the account and e-mail address users can turn to."""
    row = (
        await session.execute(
            select(Account, User)
            .join(User, User.account_id == Account.id)
            .where(_local_users(), User.role == "admin")
            .order_by(Account.id)
            .limit(1)
        )
    ).first()
    return (None, "") if row is None else (row[0], row[1].email or "")


@dataclass(frozen=True)
class Described:
    """What the admin says about the node (`flurfunk node set`, `node rule add`), with
    defaults for what they left unsaid."""

    title: str
    description: str
    email: str
    contact: Account | None
    rules: list[dict[str, str]]
    updated_at: datetime | None
    reminder: str = ""  # the confidentiality reminder (outbox.reminder)


async def described(session: AsyncSession, settings: Settings) -> Described:
    values = await admin.node_settings(session)
    contact, admin_email = await _contact(session)
    return Described(
        title=values.get("name") or TITLE,
        description=values.get("description") or _description(settings),
        email=values.get("contact_email") or admin_email,
        contact=contact,
        rules=await _rules(session),
        updated_at=await admin.node_settings_updated(session),
        reminder=values.get(REMINDER_KEY, ""),
    )


async def _rules(session: AsyncSession) -> list[dict[str, str]]:
    """Once a usage policy exists its top-level list items are the rules; before that, the
    rules set on the admin page."""
    current = await policy.current(session)
    if current is not None:
        texts = policy_rules(current.text)
        return [{"id": str(n), "text": text, "hint": ""} for n, text in enumerate(texts, 1)]
    return [{"id": str(r.id), "text": r.text, "hint": r.hint} for r in await admin.rules(session)]


def streaming_url(settings: Settings) -> str:
    scheme = "wss" if settings.public_url.startswith("https") else "ws"
    return f"{scheme}://{settings.domain}"


def _description(settings: Settings) -> str:
    return f"Flurfunk node {settings.domain}: the internal microblog of this department."


def _configuration(settings: Settings) -> dict[str, Any]:
    return {
        "accounts": {"max_featured_tags": 10, "max_pinned_statuses": MAX_PINS},
        "statuses": {
            "max_characters": settings.max_status_chars,
            "max_media_attachments": MAX_MEDIA,
            "characters_reserved_per_url": 23,
        },
        "media_attachments": {
            "supported_mime_types": supported_types(settings),
            "image_size_limit": settings.media_max_bytes_image,
            "image_matrix_limit": settings.media_max_pixels,
            "video_size_limit": settings.media_max_bytes_video,
            "description_limit": MAX_DESCRIPTION,
            "video_frame_rate_limit": 120,
            "video_matrix_limit": 8_294_400,  # 3840 x 2160
        },
        "vapid": {"public_key": vapid_key(settings).public_key},
        "polls": {
            "max_options": 4,
            "max_characters_per_option": 50,
            "min_expiration": 300,
            "max_expiration": 2_629_746,
        },
    }


async def instance_v1(request: Request) -> Response:
    node = node_of(request)
    settings = node.settings
    async with node.db.read() as session:
        usage = await node_usage(session)
        about = await described(session, settings)
        federation = await _federation(session)
    contact = about.contact
    return ok(
        {
            "uri": settings.domain,
            "title": about.title,
            "short_description": about.description,
            "description": about.description,
            "email": about.email,
            "version": VERSION,
            "urls": {"streaming_api": streaming_url(settings)},
            "stats": {
                "user_count": usage.users,
                "status_count": usage.local_posts,
                "domain_count": usage.domains,
            },
            "thumbnail": settings.url(serializers.MISSING_HEADER),
            "languages": LANGUAGES,
            "registrations": settings.registrations_open,
            "approval_required": False,
            "invites_enabled": False,
            "max_toot_chars": settings.max_status_chars,  # older clients read only this
            "configuration": _configuration(settings),
            "contact_account": serializers.account(contact, node.links()) if contact else None,
            "rules": about.rules,
            "flurfunk": {
                "version": SOFTWARE_VERSION,
                "federation": federation,
                "confidentiality_reminder": about.reminder or None,
            },
        }
    )


async def instance_v2(request: Request) -> Response:
    node = node_of(request)
    settings = node.settings
    async with node.db.read() as session:
        usage = await node_usage(session)
        about = await described(session, settings)
        federation = await _federation(session)
    contact = about.contact
    configuration = {"urls": {"streaming": streaming_url(settings)}, **_configuration(settings)}
    configuration["translation"] = {"enabled": False}
    return ok(
        {
            "domain": settings.domain,
            "title": about.title,
            "version": VERSION,
            "api_versions": API_VERSIONS,
            "source_url": SOURCE_URL,
            "description": about.description,
            "usage": {"users": {"active_month": usage.active_month}},
            "thumbnail": {
                "url": settings.url(serializers.MISSING_HEADER),
                "blurhash": None,
                "versions": {},
            },
            "languages": LANGUAGES,
            "configuration": configuration,
            "registrations": {
                "enabled": settings.registrations_open,
                "approval_required": False,
                "message": None,
                "url": None,
            },
            "contact": {
                "email": about.email,
                "account": serializers.account(contact, node.links()) if contact else None,
            },
            "rules": about.rules,
            "flurfunk": {
                "version": SOFTWARE_VERSION,
                "federation": federation,
                "confidentiality_reminder": about.reminder or None,
            },
        }
    )


async def peers(request: Request) -> Response:
    """Nodes this one federates with: allowlisted hosts and the allowed hosts it knows
    accounts of (a host removed from the allowlist is no peer any more)."""
    async with node_of(request).db.read() as session:
        known = set(
            await session.scalars(
                select(distinct(Account.domain)).where(Account.domain.is_not(None))
            )
        )
        patterns = await allowlist.patterns(session)
    current = Allowlist(patterns)
    still_allowed = {d for d in known if d and _allows_domain(current, d)}
    return ok(sorted(still_allowed | {p for p in patterns if "*" not in p}))


def _allows_domain(allowlist: Allowlist, domain: str) -> bool:
    try:
        return allowlist.allows(*split_host_port(domain))
    except PatternError:  # a stored domain no host could have: nobody to list
        return False


def _week_starts(now: datetime) -> list[datetime]:
    """Mondays 00:00 UTC, this week first."""
    monday = (now - timedelta(days=now.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return [monday - timedelta(weeks=i) for i in range(ACTIVITY_WEEKS)]


def _id_range(start: datetime) -> tuple[int, int]:
    """Row ids are time-ordered, so a week of rows is a range of ids."""
    end = start + timedelta(weeks=1)
    return id_for_time(int(start.timestamp() * 1000)), id_for_time(int(end.timestamp() * 1000))


async def _weekly_counts(
    session: AsyncSession, weeks: list[datetime], column: Any, counted: Any, *where: Any
) -> list[int]:
    """For each week, how many distinct `counted` values rows with ids in that week have."""
    ranges = [_id_range(week) for week in weeks]
    columns = [
        func.count(distinct(case((and_(column >= low, column < high), counted))))
        for low, high in ranges
    ]
    oldest = min(low for low, _ in ranges)
    row = (await session.execute(select(*columns).where(column >= oldest, *where))).one()
    return [int(value or 0) for value in row]


async def activity(request: Request) -> Response:
    weeks = _week_starts(datetime.now(UTC))
    async with node_of(request).db.read() as session:
        statuses = await _weekly_counts(
            session, weeks, Status.id, Status.id, Status.local.is_(True)
        )
        logins = await _weekly_counts(
            session,
            weeks,
            AccessToken.id,
            AccessToken.account_id,
            AccessToken.account_id.is_not(None),
        )
        registrations = await _weekly_counts(
            session, weeks, Account.id, Account.id, Account.domain.is_(None)
        )
    return ok(
        [
            {
                "week": str(int(week.timestamp())),
                "statuses": str(statuses[i]),
                "logins": str(logins[i]),
                "registrations": str(registrations[i]),
            }
            for i, week in enumerate(weeks)
        ]
    )


async def extended_description(request: Request) -> Response:
    node = node_of(request)
    async with node.db.read() as session:
        about = await described(session, node.settings)
    # A generated text is as old as the node, which starts with its first admin.
    updated = about.updated_at or (about.contact.created_at if about.contact else None)
    content = f"<p>{html.escape(about.description)}</p>"
    return ok({"updated_at": serializers.iso(updated or datetime.now(UTC)), "content": content})


async def rules(request: Request) -> Response:
    node = node_of(request)
    async with node.db.read() as session:
        return ok((await described(session, node.settings)).rules)


async def empty_object(request: Request) -> Response:
    return ok({})


async def empty_list(request: Request) -> Response:
    return ok([])


routes = [
    Route("/api/v1/instance", instance_v1),
    Route("/api/v2/instance", instance_v2),
    Route("/api/v1/instance/peers", peers),
    Route("/api/v1/instance/activity", activity),
    Route("/api/v1/instance/rules", rules),
    Route("/api/v1/instance/extended_description", extended_description),
    Route("/api/v1/instance/translation_languages", empty_object),
    Route("/api/v1/instance/domain_blocks", empty_list),
]
