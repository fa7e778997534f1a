"""Remote custom emoji: the `Emoji` tags of notes and actors, recorded per host.

An emoji belongs to the node of the author whose document names it (Mastodon keys them the
same way), so one host cannot redefine another's. Its image is only ever fetched by the
background fetcher (outbox.emoji_fetch) and only from a host the allowlist admits now: a tag
whose image lives elsewhere is not recorded at all. A tag with a new image URL (the emoji was
changed on its node) makes the row due again; the old copy is shown until the new one is here.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from federation.allowlist import Allowlist
from inbox.parse import MAX_URI, authority
from inbox.parse_notes import RemoteEmoji, emoji_tags
from models import emoji as stored
from models.base import utcnow
from models.emoji import CustomEmoji


async def record(
    session: AsyncSession, allowlist: Allowlist, domain: str | None, document: object
) -> int:
    """Record the emoji tags of a remote `document` by an author of `domain`; how many rows
    were added or changed."""
    if not domain:
        return 0
    changed = 0
    for tag in emoji_tags(document):
        if allowlist.allows_url(tag.image_url):
            changed += await _upsert(session, domain, tag)
    return changed


def _own_uri(domain: str, tag: RemoteEmoji) -> str | None:
    """The tag's id, when it lives on the node it speaks for."""
    if tag.uri is None or len(tag.uri) > MAX_URI:
        return None
    try:
        return tag.uri if authority(tag.uri) == domain else None
    except ValueError:
        return None


async def _upsert(session: AsyncSession, domain: str, tag: RemoteEmoji) -> int:
    row = await stored.find(session, tag.shortcode, domain)
    now = utcnow()
    if row is None:
        row = CustomEmoji(
            shortcode=tag.shortcode,
            domain=domain,
            visible_in_picker=False,
            uri=_own_uri(domain, tag),
            image_remote_url=tag.image_url,
            fetch_after=now,
            updated_at=now,
        )
        try:
            async with session.begin_nested():  # another note may record it at the same time
                session.add(row)
        except IntegrityError:
            return 0
        return 1
    if row.image_remote_url == tag.image_url:
        return 0
    row.image_remote_url = tag.image_url
    row.uri = _own_uri(domain, tag) or row.uri
    row.fetch_after, row.fetch_attempts, row.fetch_error = now, 0, None
    return 1
