"""Profile updates of a local account: names, bio, fields, flags, posting defaults, images.

Everything is checked before anything is written: `check` refuses bad text, `read_image`
refuses anything Pillow cannot decode, and only then are images stored and the rows changed,
so a refused update leaves the profile exactly as it was. With federation (`fed`), the changed
profile is sent to other nodes as Update(Person) in the same transaction.
"""

from __future__ import annotations

import io
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.account import Account, User
from models.base import utcnow
from models.settings import Settings
from outbox import content, images, relationship_activities, relationships, storage
from outbox.context import Federation

MAX_DISPLAY_NAME = 30
MAX_NOTE = 500
MAX_FIELDS = 4
MAX_FIELD_TEXT = 255
MAX_IMAGE_BYTES = 8 * 1024 * 1024
# Mastodon's sizes: avatars are shown at most 400 px wide, headers at most 1500 x 500.
IMAGE_BOUNDS = {"avatar": (400, 400), "header": (1500, 500)}
DEFAULT_VISIBILITIES = ("public", "unlisted", "private", "local")
LANGUAGE = re.compile(r"^[a-z]{2,3}$")


class ProfileError(ValueError):
    """Why an update is refused, fit to show to the user."""


@dataclass(frozen=True)
class ProfileImage:
    data: bytes
    extension: str


@dataclass(frozen=True)
class ProfileChanges:
    """What the owner asked to change; None leaves a value as it is."""

    display_name: str | None = None
    note: str | None = None
    locked: bool | None = None
    bot: bool | None = None
    discoverable: bool | None = None
    fields: list[tuple[str, str]] | None = None
    privacy: str | None = None
    sensitive: bool | None = None
    language: str | None = None  # "" clears it
    avatar: ProfileImage | None = None
    header: ProfileImage | None = None


def check(changes: ProfileChanges) -> None:
    """Refuse an update that breaks a rule, before anything is stored."""
    if changes.display_name is not None and len(changes.display_name) > MAX_DISPLAY_NAME:
        raise ProfileError(f"display_name is too long (maximum is {MAX_DISPLAY_NAME} characters)")
    if changes.note is not None and len(changes.note) > MAX_NOTE:
        raise ProfileError(f"note is too long (maximum is {MAX_NOTE} characters)")
    if changes.fields is not None:
        if len(changes.fields) > MAX_FIELDS:
            raise ProfileError(f"fields: at most {MAX_FIELDS} profile fields are allowed")
        for name, value in changes.fields:
            if len(name) > MAX_FIELD_TEXT or len(value) > MAX_FIELD_TEXT:
                raise ProfileError(
                    f"fields: names and values are limited to {MAX_FIELD_TEXT} characters"
                )
    if changes.privacy is not None and changes.privacy not in DEFAULT_VISIBILITIES:
        raise ProfileError(f"source[privacy] must be one of {', '.join(DEFAULT_VISIBILITIES)}")
    if changes.language and not LANGUAGE.match(changes.language):
        raise ProfileError("source[language] must be an ISO 639 language code")


def read_image(data: bytes, kind: str) -> ProfileImage:
    """Decode an uploaded avatar or header, shrink it to Mastodon's size, drop its metadata.

    Runs Pillow, so call it off the event loop. Animated images keep their size and frames.
    """
    from PIL import Image, ImageOps  # imported with the first image, see outbox.images

    if len(data) > MAX_IMAGE_BYTES:
        raise ProfileError(f"{kind} must be smaller than 8 MB")
    unreadable = ProfileError(f"{kind} must be a PNG, JPEG, GIF or WebP image that can be read")
    try:
        image = images.open_image(data)
    except images.ImageError:
        raise unreadable from None
    fmt = image.format or "PNG"
    out = io.BytesIO()
    try:
        if getattr(image, "is_animated", False):
            for key in ("exif", "xmp", "comment"):
                image.info.pop(key, None)
            image.save(out, fmt, save_all=True)
            return ProfileImage(out.getvalue(), images.IMAGE_FORMATS[fmt][1])
        options: dict[str, Any] = {"quality": 90} if fmt in ("JPEG", "WEBP") else {}
        if image.info.get("icc_profile"):
            options["icc_profile"] = image.info["icc_profile"]
        still = ImageOps.exif_transpose(image)
        still.info = {}
        still.thumbnail(IMAGE_BOUNDS[kind], Image.Resampling.LANCZOS)
        if fmt == "GIF":
            fmt = "PNG"
        if fmt == "JPEG" and still.mode not in ("RGB", "L"):
            still = still.convert("RGB")
        still.save(out, fmt, **options)
    except images.decode_errors():
        raise unreadable from None
    return ProfileImage(out.getvalue(), images.IMAGE_FORMATS[fmt][1])


def store_image(settings: Settings, account_id: int, kind: str, image: ProfileImage) -> str:
    """Store an image in the media area; its key there (served at /media/). Blocks."""
    relative = f"accounts/{kind}s/{account_id}/{secrets.token_hex(8)}.{image.extension}"
    storage.media(settings).put(relative, image.data)
    return relative


def forget_image(settings: Settings, relative: str | None) -> None:
    """Delete a stored image that nothing refers to any more. Blocks."""
    if relative and relative.startswith("accounts/"):
        storage.media(settings).delete(relative)


async def _known_mentions(
    session: AsyncSession, settings: Settings, texts: list[str]
) -> dict[content.Handle, content.MentionTarget]:
    """The accounts this node knows among those the texts mention."""
    handles = {h for t in texts for h in content.mentioned_handles(t, settings.domain)}
    if not handles:
        return {}
    rows = await session.scalars(
        select(Account).where(func.lower(Account.username).in_({h.username for h in handles}))
    )
    known = {}
    for a in rows:
        handle = content.Handle(a.username.lower(), a.domain.lower() if a.domain else None)
        if handle in handles:
            url = a.url or a.uri or settings.url(f"/@{a.username}")
            known[handle] = content.MentionTarget(a.id, a.username, url)
    return known


def _field_value(
    value: str, settings: Settings, known: dict[content.Handle, content.MentionTarget]
) -> str:
    """A field value as HTML with links, without the paragraph a bio would get."""
    rendered = content.render(value, public_url=settings.public_url, mentions=known).html
    if rendered.startswith("<p>") and rendered.endswith("</p>") and rendered.count("<p>") == 1:
        rendered = rendered[3:-4]
    return rendered


async def update_profile(
    session: AsyncSession,
    settings: Settings,
    account: Account,
    user: User,
    changes: ProfileChanges,
    stored: dict[str, str],
    *,
    fed: Federation | None = None,
) -> list[str]:
    """Apply checked changes; `stored` holds paths of images already written by store_image.

    Returns the paths of replaced images, to forget once the transaction has committed.
    """
    known = await _known_mentions(
        session, settings, [changes.note or "", *(v for _, v in changes.fields or [])]
    )
    for name in ("display_name", "bot", "discoverable"):
        value = getattr(changes, name)
        if value is not None:
            setattr(account, name, value)
    if changes.note is not None:
        account.note_source = changes.note
        account.note = content.render(
            changes.note, public_url=settings.public_url, mentions=known
        ).html
    if changes.fields is not None:
        account.fields = [
            {"name": name, "value": _field_value(value, settings, known), "source": value}
            for name, value in changes.fields
        ]
    replaced = []
    if "avatar" in stored:
        replaced.append(account.avatar_path)
        account.avatar_path = stored["avatar"]
    if "header" in stored:
        replaced.append(account.header_path)
        account.header_path = stored["header"]
    unlocking = changes.locked is False and account.locked
    if changes.locked is not None:
        account.locked = changes.locked
    account.updated_at = utcnow()
    _update_preferences(user, changes)
    await session.flush()
    if unlocking:
        await relationships.authorize_all(session, account, fed=fed)
    await relationship_activities.update_person(session, fed, account)
    return [path for path in replaced if path]


def _update_preferences(user: User, changes: ProfileChanges) -> None:
    preferences = dict(user.preferences or {})
    if changes.privacy is not None:
        preferences["posting:default:visibility"] = changes.privacy
    if changes.sensitive is not None:
        preferences["posting:default:sensitive"] = changes.sensitive
    if changes.language is not None:
        preferences["posting:default:language"] = changes.language or None
    user.preferences = preferences  # a new dict, so that the JSON column sees the change


async def remove_image(
    session: AsyncSession, account: Account, kind: str, *, fed: Federation | None = None
) -> str | None:
    """Drop the avatar or header (back to the default image); the path to forget."""
    column = "avatar_path" if kind == "avatar" else "header_path"
    old: str | None = getattr(account, column)
    setattr(account, column, None)
    account.updated_at = utcnow()
    await session.flush()
    await relationship_activities.update_person(session, fed, account)
    return old
