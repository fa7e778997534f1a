"""Hashtags: GET /api/v1/tags/:name, following and unfollowing them, the followed list."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from models.tables import FollowedTag, Tag
from outbox.followed_tags import follow_tag, normalise_tag, unfollow_tag
from web.api import serializers
from web.api.base import Call, call, ok, page_of, paginated
from web.api.errors import not_found

TAGS_PAGE = 100
TAGS_MAX = 200


def tag_name(request: Request) -> str:
    name = normalise_tag(request.path_params["name"])
    if name is None:
        raise not_found()
    return name


def unused_tag(c: Call, name: str) -> dict[str, Any]:
    """A tag nobody has used: it has no id yet (Mastodon answers an empty one)."""
    data = serializers.tag(Tag(id=0, name=name), c.node.links(), following=False)
    data["id"] = ""
    return data


async def is_followed(c: Call, tag: Tag) -> bool:
    if c.viewer_id is None:
        return False
    async with c.node.db.read() as session:
        row = await session.get(FollowedTag, (c.viewer_id, tag.id))
        return row is not None


async def show(request: Request) -> Response:
    """A tag nobody has used yet still answers, unfollowed, so that apps can offer to follow."""
    c = await call(request, "read:statuses", optional=True)
    name = tag_name(request)
    async with c.node.db.read() as session:
        tag = await session.scalar(select(Tag).where(Tag.name == name))
    if tag is None:
        return ok(unused_tag(c, name))
    return ok(serializers.tag(tag, c.node.links(), following=await is_followed(c, tag)))


async def follow(request: Request) -> Response:
    c = await call(request, "write:follows")
    name = tag_name(request)
    async with c.node.db.write() as session:
        tag = await follow_tag(session, c.account.id, name)
    return ok(serializers.tag(tag, c.node.links(), following=True))


async def unfollow(request: Request) -> Response:
    c = await call(request, "write:follows")
    name = tag_name(request)
    async with c.node.db.write() as session:
        tag = await session.scalar(select(Tag).where(Tag.name == name))
        if tag is not None:
            await unfollow_tag(session, c.account.id, tag)
    if tag is None:
        return ok(unused_tag(c, name))
    return ok(serializers.tag(tag, c.node.links(), following=False))


async def followed(request: Request) -> Response:
    """The caller's followed tags, paged by tag id."""
    c = await call(request, "read:follows")
    page = page_of(c.params, TAGS_PAGE, TAGS_MAX)
    query = (
        select(Tag)
        .join(FollowedTag, FollowedTag.tag_id == Tag.id)
        .where(FollowedTag.account_id == c.account.id)
    )
    async with c.node.db.read() as session:
        rows = page.settle((await session.execute(page.apply(query, Tag.id))).scalars().all())
    items = [serializers.tag(t, c.node.links(), following=True) for t in rows]
    return paginated(c, items, [t.id for t in rows])


routes: list[BaseRoute] = [
    Route("/api/v1/followed_tags", followed, methods=["GET"]),
    Route("/api/v1/tags/{name}", show, methods=["GET"]),
    Route("/api/v1/tags/{name}/follow", follow, methods=["POST"]),
    Route("/api/v1/tags/{name}/unfollow", unfollow, methods=["POST"]),
]
