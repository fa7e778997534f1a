"""Following hashtags.

For now a followed tag is remembered and shown (GET /api/v1/followed_tags, `following` on
the tag); it does not yet bring tagged posts into the home feed.
"""

from __future__ import annotations

import re

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.db import upsert
from models.status import Tag
from models.timeline import FollowedTag

# Word characters with at least one that is not a digit, as Mastodon's hashtags.
TAG_NAME = re.compile(r"^\w*[^\W\d]\w*$")


def normalise_tag(name: str) -> str | None:
    """The stored form of a hashtag name (lower case, no '#'), or None if it cannot be one."""
    name = name.strip().removeprefix("#").lower()
    if len(name) > 255 or not TAG_NAME.match(name):
        return None
    return name


async def tag_named(session: AsyncSession, name: str) -> Tag:
    """The tag with this (normalised) name, created if nobody has used it yet."""
    await session.execute(upsert(session, Tag).values(name=name).on_conflict_do_nothing())
    tag = await session.scalar(select(Tag).where(Tag.name == name))
    assert tag is not None
    return tag


async def follow_tag(session: AsyncSession, account_id: int, name: str) -> Tag:
    tag = await tag_named(session, name)
    await session.execute(
        upsert(session, FollowedTag)
        .values(account_id=account_id, tag_id=tag.id)
        .on_conflict_do_nothing()
    )
    return tag


async def unfollow_tag(session: AsyncSession, account_id: int, tag: Tag) -> None:
    await session.execute(
        delete(FollowedTag).where(
            FollowedTag.account_id == account_id, FollowedTag.tag_id == tag.id
        )
    )
