"""What admins do with the node's custom emoji: add one (shortcode, image, category), remove
one, list them. Used by the CLI and the admin pages alike; every change writes its audit entry
(models.admin) in its own transaction.

Files are written before the row and removed again if the row cannot be written, so neither is
left without the other; a removed emoji's files go once its row is gone.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from models import admin
from models import emoji as stored
from models.base import utcnow
from models.db import Database
from models.emoji import CustomEmoji
from models.settings import Settings
from outbox import emoji_images
from outbox.emoji_catalogue import SHORTCODE
from outbox.permissions import AdminError, Operator, require

MAX_CATEGORY = 64


class UnknownEmoji(AdminError):
    status = 404


@dataclass(frozen=True)
class NewEmoji:
    shortcode: str
    data: bytes
    category: str | None = None


def _check(operator: Operator, emoji: NewEmoji) -> str | None:
    require(operator, "manage_node")
    if not SHORTCODE.fullmatch(emoji.shortcode):
        raise AdminError(
            "a shortcode has 2 to 64 letters (A-Z, a-z), digits or underscores, "
            f"not {emoji.shortcode[:80]!r}"
        )
    category = (emoji.category or "").strip() or None
    if category is not None and (len(category) > MAX_CATEGORY or not category.isprintable()):
        raise AdminError(f"a category has at most {MAX_CATEGORY} printable characters")
    return category


async def add(db: Database, settings: Settings, operator: Operator, emoji: NewEmoji) -> CustomEmoji:
    """Check and store a new emoji; AdminError (422) says why one is refused."""
    category = _check(operator, emoji)
    async with db.read() as session:
        if await stored.find(session, emoji.shortcode) is not None:
            raise AdminError(f"there is an emoji :{emoji.shortcode}: already")
    try:
        image = await asyncio.to_thread(emoji_images.check, emoji.data)
    except emoji_images.EmojiImageError as exc:
        raise AdminError(str(exc)) from None
    path, still = await asyncio.to_thread(emoji_images.store, settings, image, emoji.shortcode)
    row = CustomEmoji(
        shortcode=emoji.shortcode,
        domain=stored.LOCAL,
        category=category,
        visible_in_picker=True,
        image_path=path,
        static_path=still,
        content_type=image.mime,
        updated_at=utcnow(),
    )
    try:
        async with db.write() as session:
            session.add(row)
            await session.flush()
            detail = f"category={category}" if category else ""
            _record(session, operator, "emoji.add", emoji.shortcode, detail)
    except IntegrityError:
        emoji_images.remove(settings, path, still)
        raise AdminError(f"there is an emoji :{emoji.shortcode}: already") from None
    except BaseException:
        emoji_images.remove(settings, path, still)
        raise
    return row


async def remove(db: Database, settings: Settings, operator: Operator, shortcode: str) -> None:
    require(operator, "manage_node")
    async with db.write() as session:
        row = await stored.find(session, shortcode)
        if row is None:
            raise UnknownEmoji(f"there is no emoji :{shortcode[:80]}:")
        await session.delete(row)
        _record(session, operator, "emoji.remove", shortcode, "")
    await asyncio.to_thread(emoji_images.remove, settings, row.image_path, row.static_path)


def _record(
    session: AsyncSession, operator: Operator, action: str, target: str, detail: str
) -> None:
    admin.record(
        session, operator.name, action, target, detail, operator_account_id=operator.account_id
    )
