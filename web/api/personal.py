"""What a user keeps for themselves: private notes on accounts, blocked nodes, muted threads,
the notification policy, featured hashtags and endorsed accounts.

Every write here stores what it was given, and the matching read shows it; nothing federates.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from models.account import Account
from models.db import upsert
from models.personal import (
    NOTE_MAX,
    POLICY_KEYS,
    AccountNote,
    ConversationMute,
    DomainBlock,
    Endorsement,
    FeaturedTag,
    NotificationPolicy,
)
from models.status import Status, StatusTag, Tag
from outbox.followed_tags import normalise_tag, tag_named
from outbox.status_parts import load_visible
from web.api import serializers
from web.api.accounts import account_or_404
from web.api.base import Call, call, ok, page_of, paginated
from web.api.errors import not_found, validation
from web.api.params import parse_id
from web.api.serializers.page_facts import thread_of
from web.api.status_actions import status_errors

PAGE = 100
PAGE_MAX = 200
ACCOUNTS_PAGE = 40
ACCOUNTS_MAX = 80
MAX_FEATURED_TAGS = 10  # as /api/v1/instance announces
# A node's host as accounts carry it: lower-case name, maybe a port.
DOMAIN = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:\d{1,5})?$")


async def _relationship(session: AsyncSession, viewer_id: int, target_id: int) -> dict[str, Any]:
    return (await serializers.relationships(session, viewer_id, [target_id]))[0]


async def note(request: Request) -> Response:
    """An empty comment removes the note, as on Mastodon."""
    c = await call(request, "write:accounts")
    comment = (c.params.text("comment", max_length=NOTE_MAX) or "").strip()
    async with c.node.db.write() as session:
        target = await account_or_404(session, request.path_params["id"])
        key = (AccountNote.account_id == c.account.id, AccountNote.target_account_id == target.id)
        await session.execute(delete(AccountNote).where(*key))
        if comment:
            session.add(
                AccountNote(account_id=c.account.id, target_account_id=target.id, comment=comment)
            )
            await session.flush()
        return ok(await _relationship(session, c.account.id, target.id))


def _domain(c: Call) -> str:
    raw = (c.params.text("domain", max_length=255) or "").strip().lower().rstrip(".")
    if not raw:
        raise validation("domain must be given")
    if not DOMAIN.match(raw):
        raise validation("domain is not a valid host name")
    if raw == c.node.settings.domain.lower():
        raise validation("You cannot block your own node")
    return raw


async def domain_blocks(request: Request) -> Response:
    c = await call(request, "read:blocks")
    page = page_of(c.params, PAGE, PAGE_MAX)
    query = select(DomainBlock.id, DomainBlock.domain).where(DomainBlock.account_id == c.account.id)
    async with c.node.db.read() as session:
        rows = page.settle((await session.execute(page.apply(query, DomainBlock.id))).all())
    return paginated(c, [domain for _, domain in rows], [row_id for row_id, _ in rows])


async def domain_block_preview(request: Request) -> Response:
    """What blocking the node would sever (Mastodon 4.3): here nothing, as follows are kept."""
    c = await call(request, "read:blocks")
    _domain(c)
    return ok({"following_count": 0, "followers_count": 0})


async def block_domain(request: Request) -> Response:
    """Hides that node's accounts, posts and notifications from the caller; follows stay."""
    c = await call(request, "write:blocks")
    domain = _domain(c)
    async with c.node.db.write() as session:
        await session.execute(
            upsert(session, DomainBlock)
            .values(account_id=c.account.id, domain=domain)
            .on_conflict_do_nothing()
        )
    return ok({})


async def unblock_domain(request: Request) -> Response:
    c = await call(request, "write:blocks")
    domain = _domain(c)
    async with c.node.db.write() as session:
        await session.execute(
            delete(DomainBlock).where(
                DomainBlock.account_id == c.account.id, DomainBlock.domain == domain
            )
        )
    return ok({})


async def _mute_thread(request: Request, *, muted: bool) -> Response:
    c = await call(request, "write:mutes")
    status_id = parse_id(request.path_params["id"])
    async with c.node.db.write() as session:
        with status_errors():
            status = await load_visible(session, c.viewer_id, status_id)
        thread = thread_of(status)
        await session.execute(
            delete(ConversationMute).where(
                ConversationMute.account_id == c.account.id, ConversationMute.thread_id == thread
            )
        )
        if muted:
            session.add(ConversationMute(account_id=c.account.id, thread_id=thread))
            await session.flush()
        return ok(await serializers.status(session, c.node.links(), status, c.viewer_id))


async def mute_thread(request: Request) -> Response:
    return await _mute_thread(request, muted=True)


async def unmute_thread(request: Request) -> Response:
    return await _mute_thread(request, muted=False)


# Notification policy. "filter" would need Mastodon's notification requests (held back
# notifications an owner accepts or dismisses), which this node does not keep: it is refused
# rather than stored and ignored. "accept" and "drop" are what `outbox.notify` does.
HONOURED = ("accept", "drop")


def _policy_values(row: NotificationPolicy | None) -> dict[str, str]:
    if row is None:
        return {key: "accept" for key in POLICY_KEYS}
    return {key: getattr(row, key) for key in POLICY_KEYS}


def _v1_policy(values: dict[str, str]) -> dict[str, bool]:
    """The 4.3 v1 shape, where `true` meant "filter"; this node never filters."""
    return {
        f"filter_{key.removeprefix('for_')}": False
        for key in POLICY_KEYS
        if key != "for_limited_accounts"
    }


async def notification_policy(request: Request) -> Response:
    writing = request.method != "GET"
    c = await call(request, "write:notifications" if writing else "read:notifications")
    v2 = request.url.path.startswith("/api/v2/")
    changes: dict[str, str] = {}
    if writing:
        for key in POLICY_KEYS:
            value = c.params.text(key)
            if value is None:
                continue
            if value not in ("accept", "filter", "drop"):
                raise validation(f"{key} must be one of accept, filter, drop")
            if value not in HONOURED:
                raise validation(
                    f"{key}: filtered notifications are not supported on this node; "
                    "use accept or drop"
                )
            changes[key] = value
        for key in ("filter_not_following", "filter_not_followers", "filter_new_accounts"):
            if not v2 and c.params.flag(key):
                raise validation(f"{key}: filtered notifications are not supported on this node")
    async with c.node.db.write() if writing else c.node.db.read() as session:
        row = await session.get(NotificationPolicy, c.account.id)
        if changes:
            if row is None:
                row = NotificationPolicy(account_id=c.account.id, **_policy_values(None))
                session.add(row)
            for key, value in changes.items():
                setattr(row, key, value)
            await session.flush()
        values = _policy_values(row)
    summary = {"pending_requests_count": 0, "pending_notifications_count": 0}
    if v2:
        return ok({**values, "summary": summary})
    return ok({**_v1_policy(values), "summary": summary})


# Featured hashtags.


async def _featured_rows(session: AsyncSession, owner_id: int) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(FeaturedTag.id, Tag.name)
        .join(Tag, Tag.id == FeaturedTag.tag_id)
        .where(FeaturedTag.account_id == owner_id)
        .order_by(FeaturedTag.id)
    )
    out = []
    for featured_id, name in list(rows):
        counts = (
            await session.execute(
                select(func.count(), func.max(Status.created_at))
                .select_from(StatusTag)
                .join(Status, Status.id == StatusTag.status_id)
                .join(Tag, Tag.id == StatusTag.tag_id)
                .where(
                    Tag.name == name,
                    Status.account_id == owner_id,
                    Status.visibility.in_(("public", "unlisted")),
                )
            )
        ).one()
        out.append((featured_id, name, counts[0], counts[1]))
    return [
        {
            "id": str(featured_id),
            "name": name,
            "url": "",
            "statuses_count": str(count),
            "last_status_at": last.date().isoformat() if last else None,
        }
        for featured_id, name, count, last in out
    ]


def _with_urls(c: Call, owner: Account, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for item in items:
        item["url"] = c.node.links().local(f"/@{owner.username}/tagged/{item['name']}")
    return items


async def featured_tags(request: Request) -> Response:
    c = await call(request, "read:accounts")
    async with c.node.db.read() as session:
        return ok(_with_urls(c, c.account, await _featured_rows(session, c.account.id)))


async def featured_tags_of(request: Request) -> Response:
    c = await call(request, "read:accounts", optional=True)
    async with c.node.db.read() as session:
        owner = await account_or_404(session, request.path_params["id"])
        return ok(_with_urls(c, owner, await _featured_rows(session, owner.id)))


async def feature_tag(request: Request) -> Response:
    c = await call(request, "write:accounts")
    raw = c.params.text("name", max_length=300)
    name = normalise_tag(raw or "")
    if name is None:
        raise validation("name is not a valid hashtag")
    async with c.node.db.write() as session:
        count = await session.scalar(
            select(func.count()).where(FeaturedTag.account_id == c.account.id)
        )
        tag = await tag_named(session, name)
        already = await session.scalar(
            select(FeaturedTag.id).where(
                FeaturedTag.account_id == c.account.id, FeaturedTag.tag_id == tag.id
            )
        )
        if already is not None:
            raise validation("You have already featured this hashtag")
        if (count or 0) >= MAX_FEATURED_TAGS:
            raise validation(f"You cannot feature more than {MAX_FEATURED_TAGS} hashtags")
        row = FeaturedTag(account_id=c.account.id, tag_id=tag.id)
        session.add(row)
        await session.flush()
        items = _with_urls(c, c.account, await _featured_rows(session, c.account.id))
    return ok(next(item for item in items if item["id"] == str(row.id)))


async def unfeature_tag(request: Request) -> Response:
    c = await call(request, "write:accounts")
    featured_id = parse_id(request.path_params["id"])
    async with c.node.db.write() as session:
        removed = await session.execute(
            delete(FeaturedTag)
            .where(FeaturedTag.id == featured_id, FeaturedTag.account_id == c.account.id)
            .returning(FeaturedTag.id)
        )
        if removed.first() is None:
            raise not_found()
    return ok({})


async def featured_tag_suggestions(request: Request) -> Response:
    """The caller's most used hashtags that are not featured yet."""
    c = await call(request, "read:accounts")
    featured = select(FeaturedTag.tag_id).where(FeaturedTag.account_id == c.account.id)
    async with c.node.db.read() as session:
        rows = await session.scalars(
            select(Tag)
            .join(StatusTag, StatusTag.tag_id == Tag.id)
            .join(Status, Status.id == StatusTag.status_id)
            .where(Status.account_id == c.account.id, Tag.id.not_in(featured))
            .group_by(Tag.id)
            .order_by(func.count().desc(), Tag.id)
            .limit(MAX_FEATURED_TAGS)
        )
        return ok([serializers.tag(t, c.node.links(), following=False) for t in rows])


# Endorsements: accounts shown on one's profile.


async def _endorse(request: Request, *, endorsed: bool) -> Response:
    c = await call(request, "write:accounts")
    async with c.node.db.write() as session:
        target = await account_or_404(session, request.path_params["id"])
        if endorsed:
            if target.id == c.account.id:
                raise validation("You cannot endorse yourself")
            await session.execute(
                upsert(session, Endorsement)
                .values(account_id=c.account.id, target_account_id=target.id)
                .on_conflict_do_nothing()
            )
        else:
            await session.execute(
                delete(Endorsement).where(
                    Endorsement.account_id == c.account.id,
                    Endorsement.target_account_id == target.id,
                )
            )
        return ok(await _relationship(session, c.account.id, target.id))


async def endorse(request: Request) -> Response:
    return await _endorse(request, endorsed=True)


async def unendorse(request: Request) -> Response:
    return await _endorse(request, endorsed=False)


async def _endorsed_page(c: Call, owner_id: int) -> Response:
    page = page_of(c.params, ACCOUNTS_PAGE, ACCOUNTS_MAX)
    query = (
        select(Endorsement.id, Account)
        .join(Account, Account.id == Endorsement.target_account_id)
        .where(Endorsement.account_id == owner_id, Account.suspended_at.is_(None))
    )
    async with c.node.db.read() as session:
        rows = page.settle((await session.execute(page.apply(query, Endorsement.id))).all())
    links = c.node.links()
    return paginated(c, [serializers.account(a, links) for _, a in rows], [i for i, _ in rows])


async def endorsements(request: Request) -> Response:
    c = await call(request, "read:accounts")
    return await _endorsed_page(c, c.account.id)


async def endorsements_of(request: Request) -> Response:
    c = await call(request, "read:accounts", optional=True)
    async with c.node.db.read() as session:
        owner = await account_or_404(session, request.path_params["id"])
    return await _endorsed_page(c, owner.id)


routes: list[BaseRoute] = [
    Route("/api/v1/accounts/{id:int}/note", note, methods=["POST"]),
    Route("/api/v1/domain_blocks", domain_blocks, methods=["GET"]),
    Route("/api/v1/domain_blocks", block_domain, methods=["POST"]),
    Route("/api/v1/domain_blocks/preview", domain_block_preview, methods=["GET"]),
    Route("/api/v1/domain_blocks", unblock_domain, methods=["DELETE"]),
    Route("/api/v1/statuses/{id}/mute", mute_thread, methods=["POST"]),
    Route("/api/v1/statuses/{id}/unmute", unmute_thread, methods=["POST"]),
    Route("/api/v1/notifications/policy", notification_policy, methods=["GET", "PATCH", "PUT"]),
    Route("/api/v2/notifications/policy", notification_policy, methods=["GET", "PATCH", "PUT"]),
    Route("/api/v1/featured_tags", featured_tags, methods=["GET"]),
    Route("/api/v1/featured_tags", feature_tag, methods=["POST"]),
    Route("/api/v1/featured_tags/suggestions", featured_tag_suggestions, methods=["GET"]),
    Route("/api/v1/featured_tags/{id}", unfeature_tag, methods=["DELETE"]),
    Route("/api/v1/accounts/{id:int}/featured_tags", featured_tags_of, methods=["GET"]),
    Route("/api/v1/accounts/{id:int}/pin", endorse, methods=["POST"]),
    Route("/api/v1/accounts/{id:int}/endorse", endorse, methods=["POST"]),
    Route("/api/v1/accounts/{id:int}/unpin", unendorse, methods=["POST"]),
    Route("/api/v1/accounts/{id:int}/unendorse", unendorse, methods=["POST"]),
    Route("/api/v1/endorsements", endorsements, methods=["GET"]),
    Route("/api/v1/accounts/{id:int}/endorsements", endorsements_of, methods=["GET"]),
]
