"""`/api/v1/trends/*`: what people across the company talk about now, as this node saw it
(outbox/trends.py computes it), and `/api/v1/admin/trends/*`, where admins approve or hide
trending items.

With TRENDS_REVIEW an item shows once an admin approved it; a rejected item never shows.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from models import admin as node_admin
from models.discovery import TrendItem, TrendReview, judge, shown, verdicts
from models.tables import FollowedTag, Status
from outbox.permissions import MissingPermission
from web.api import roles as roles_api
from web.api import serializers
from web.api.base import Call, call, ok
from web.api.errors import not_found
from web.api.hosts import hidden_domains, status_admitted
from web.api.params import parse_id
from web.api.serializers.links import Links
from web.api.timelines import shown_to

# Mastodon's page sizes: (default, most) per kind.
PAGES = {"tag": (10, 20), "status": (20, 40), "link": (10, 20)}
KINDS = {"tags": "tag", "statuses": "status", "links": "link"}
ADMIN_TOP = 100


def history(item: TrendItem) -> list[dict[str, str]]:
    """Mastodon sends the history's numbers as strings."""
    return [{k: str(day[k]) for k in ("day", "uses", "accounts")} for day in item.history]


def link_card(item: TrendItem) -> dict[str, Any]:
    """A PreviewCard with history; what only the page itself tells (title, image) stays empty
    until link previews are fetched."""
    return {
        "url": item.label,
        "title": "",
        "description": "",
        "language": None,
        "type": "link",
        "author_name": "",
        "author_url": "",
        "provider_name": "",
        "provider_url": "",
        "html": "",
        "width": 0,
        "height": 0,
        "image": None,
        "image_description": "",
        "embed_url": "",
        "blurhash": None,
        "published_at": None,
        "authors": [],
        "history": history(item),
    }


def tag_entity(item: TrendItem, links: Links, followed: set[int] | None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(item.item_id),
        "name": item.label,
        "url": links.local(f"/tags/{item.label}"),
        "history": history(item),
    }
    if followed is not None:
        data["following"] = item.item_id in followed
    return data


async def _followed(session: AsyncSession, viewer_id: int | None) -> set[int] | None:
    if viewer_id is None:
        return None
    rows = await session.execute(
        select(FollowedTag.tag_id).where(FollowedTag.account_id == viewer_id)
    )
    return set(rows.scalars())


async def _statuses(
    c: Call, session: AsyncSession, items: list[TrendItem], check: bool = True
) -> list[dict[str, Any]]:
    """The trending posts the caller may see, in trend order: public, by nobody they block
    or mute, from hosts still allowed."""
    if not items:
        return []
    query = select(*serializers.STATUS_COLUMNS).where(
        Status.id.in_([i.item_id for i in items]),
        Status.visibility == "public",
        Status.held.is_(False),
        status_admitted(await hidden_domains(c.node)),
    )
    if check:
        query = query.where(shown_to(c.viewer_id))
    rows = {row.id: row for row in (await session.execute(query)).all()}
    ordered = [rows[i.item_id] for i in items if i.item_id in rows]
    return await serializers.statuses(session, c.node.links(), ordered, c.viewer_id)


def _page(c: Call, kind: str) -> tuple[int, int]:
    default, most = PAGES[kind]
    limit = c.params.number("limit", default, minimum=1, maximum=most) or default
    return limit, c.params.number("offset", 0, minimum=0) or 0


def _offset_links(c: Call, limit: int, offset: int, full: bool) -> dict[str, str]:
    """Mastodon pages trends by offset: `next` while a page came back full, `prev` after
    the first."""
    keep = [(k, v) for k, v in c.request.query_params.multi_items() if k != "offset"]
    base = c.node.settings.url(c.request.url.path)
    links = []
    if full:
        links.append(f'<{base}?{urlencode([*keep, ("offset", str(offset + limit))])}>; rel="next"')
    if offset > 0:
        before = str(max(0, offset - limit))
        links.append(f'<{base}?{urlencode([*keep, ("offset", before)])}>; rel="prev"')
    return {"Link": ", ".join(links)} if links else {}


def public(kind: str) -> Any:
    async def endpoint(request: Request) -> Response:
        c = await call(request, "read", optional=True)
        limit, offset = _page(c, kind)
        review = c.node.settings.trends_review
        async with c.node.db.read() as session:
            items = list(
                (await session.execute(shown(kind, review).limit(limit).offset(offset)))
                .scalars()
                .all()
            )
            data: list[dict[str, Any]]
            if kind == "tag":
                followed = await _followed(session, c.viewer_id)
                data = [tag_entity(i, c.node.links(), followed) for i in items]
            elif kind == "link":
                data = [link_card(i) for i in items]
            else:
                data = await _statuses(c, session, items)
        return ok(data, headers=_offset_links(c, limit, offset, len(items) == limit))

    return endpoint


# --- admin ---------------------------------------------------------------------------------


async def _admin(request: Request, scope: str) -> Call:
    """Reviewing trends is curating what the node shows: the `manage_node` permission."""
    c = await call(request, scope)
    if not (await roles_api.operator(c)).may("manage_node"):
        raise roles_api.refused(MissingPermission("manage_node"))
    return c


def _review_fields(verdict: str | None, review: bool) -> dict[str, Any]:
    return {
        "trendable": verdict == "approved" or (not review and verdict != "rejected"),
        "requires_review": review and verdict is None,
        "reviewed": verdict is not None,
        "rejected": verdict == "rejected",
    }


async def admin_entities(
    c: Call, session: AsyncSession, kind: str, items: list[TrendItem]
) -> list[dict[str, Any]]:
    """Trending items as admins see them: also hidden and unreviewed ones, with their state."""
    judged = await verdicts(session, kind)
    review = c.node.settings.trends_review
    links = c.node.links()
    if kind == "status":
        presented = {s["id"]: s for s in await _statuses(c, session, items, check=False)}
        out = []
        for i in items:
            if str(i.item_id) in presented:
                fields = _review_fields(judged.get(i.item_id), review)
                out.append(presented[str(i.item_id)] | fields)
        return out
    out = []
    for i in items:
        data = tag_entity(i, links, None) if kind == "tag" else link_card(i)
        if kind == "link":
            data["id"] = str(i.item_id)
            data["provider_name"] = data["provider_name"] or urlsplit(i.label).hostname or ""
        else:
            data |= {"usable": True, "listable": True}
        out.append(data | _review_fields(judged.get(i.item_id), review))
    return out


def admin_list(kind: str) -> Any:
    async def endpoint(request: Request) -> Response:
        c = await _admin(request, "admin:read")
        async with c.node.db.read() as session:
            query = select(TrendItem).where(TrendItem.kind == kind).order_by(TrendItem.rank)
            items = list((await session.execute(query.limit(ADMIN_TOP))).scalars().all())
            return ok(await admin_entities(c, session, kind, items))

    return endpoint


async def review_item(
    session: AsyncSession, kind: str, item_id: int, verdict: str, operator: str, by: int | None
) -> TrendItem | TrendReview | None:
    """Approve or reject one item (one that trends now, or one reviewed before), with an
    entry in the audit log; None if no such item."""
    item: TrendItem | TrendReview | None = await session.get(TrendItem, (kind, item_id))
    if item is None:
        item = await session.get(TrendReview, (kind, item_id))
    if item is None:
        return None
    if await judge(session, item, verdict, operator):
        node_admin.record(
            session,
            operator,
            f"trends.{'approve' if verdict == 'approved' else 'reject'}",
            f"{kind}:{item.label or item.item_id}"[:255],
            operator_account_id=by,
        )
    return item


def admin_review(kind: str, verdict: str) -> Any:
    async def endpoint(request: Request) -> Response:
        c = await _admin(request, "admin:write")
        item_id = parse_id(request.path_params["id"])
        if item_id is None:
            raise not_found()
        async with c.node.db.write() as session:
            item = await review_item(
                session, kind, item_id, verdict, c.account.username, c.account.id
            )
            if item is None:
                raise not_found()
        async with c.node.db.read() as session:
            current = await session.get(TrendItem, (kind, item_id))
            if current is None:
                return ok({"id": str(item_id), "reviewed": True, "rejected": verdict == "rejected"})
            return ok((await admin_entities(c, session, kind, [current]) or [{}])[0])

    return endpoint


def _routes() -> list[BaseRoute]:
    out: list[BaseRoute] = [Route("/api/v1/trends", public("tag"), methods=["GET"])]
    for path, kind in KINDS.items():
        out += [
            Route(f"/api/v1/trends/{path}", public(kind), methods=["GET"]),
            Route(f"/api/v1/admin/trends/{path}", admin_list(kind), methods=["GET"]),
            Route(
                f"/api/v1/admin/trends/{path}/{{id}}/approve",
                admin_review(kind, "approved"),
                methods=["POST"],
            ),
            Route(
                f"/api/v1/admin/trends/{path}/{{id}}/reject",
                admin_review(kind, "rejected"),
                methods=["POST"],
            ),
        ]
    return out


routes: list[BaseRoute] = _routes()
