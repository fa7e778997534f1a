"""Which custom emoji a text uses, and the emoji every process has at hand to present them.

`:shortcode:` in a post or profile names an emoji of the author's node: the node's own for
local authors, the emoji recorded for the author's host for remote ones. Only emoji whose
image this node holds are shown (a remote one is left out until the fetcher stored its copy),
so that an app or browser only ever loads emoji images from this node.

Presenting entities must not cost a query per account, so each process keeps a catalogue of
the usable emoji, re-read at most `REFRESH_SECONDS` after a change made elsewhere (the CLI,
another process's inbox), and at once after a change made in the process itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from models import emoji as stored
from models.db import Database
from models.emoji import CustomEmoji
from models.settings import Settings
from outbox.emoji_images import FOLDER

REFRESH_SECONDS = 2.0
SHORTCODE = re.compile(r"^[A-Za-z0-9_]{2,64}$")
# `:code:` not inside a word; `:a::b:` names two emoji, `12:30:45` none.
IN_TEXT = re.compile(r"(?<![A-Za-z0-9_]):([A-Za-z0-9_]{2,64}):(?![A-Za-z0-9_])")


def shortcodes_in(*texts: str | None) -> set[str]:
    return {code for text in texts if text for code in IN_TEXT.findall(text)}


def image_url(settings: Settings, path: str) -> str:
    return settings.url(f"/{FOLDER}/{path}")


@dataclass(frozen=True)
class EmojiRef:
    """What presenting an emoji needs (paths relative to the emoji folder)."""

    shortcode: str
    image_path: str
    static_path: str
    content_type: str
    visible_in_picker: bool
    category: str | None

    @classmethod
    def of(cls, row: CustomEmoji) -> EmojiRef:
        return cls(
            row.shortcode,
            row.image_path or "",
            row.static_path or row.image_path or "",
            row.content_type or "image/png",
            row.visible_in_picker,
            row.category,
        )

    def entity(self, settings: Settings) -> dict[str, Any]:
        """Mastodon's CustomEmoji."""
        return {
            "shortcode": self.shortcode,
            "url": image_url(settings, self.image_path),
            "static_url": image_url(settings, self.static_path),
            "visible_in_picker": self.visible_in_picker,
            "category": self.category,
        }


@dataclass(frozen=True)
class EmojiCatalogue:
    """The usable emoji by (domain, shortcode); domain "" is this node."""

    by_key: Mapping[tuple[str, str], EmojiRef] = field(default_factory=dict)

    def used(self, domain: str | None, *texts: str | None) -> list[EmojiRef]:
        """The emoji of `domain` (None: this node) that the texts name, by shortcode."""
        if not self.by_key:
            return []
        where = domain or stored.LOCAL
        found = (self.by_key.get((where, code)) for code in sorted(shortcodes_in(*texts)))
        return [ref for ref in found if ref is not None]


def catalogue_of(rows: Iterable[CustomEmoji]) -> EmojiCatalogue:
    return EmojiCatalogue({(r.domain, r.shortcode): EmojiRef.of(r) for r in rows})


class LiveEmojis:
    """The catalogue every part of a running process consults, kept fresh from the database."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._current = EmojiCatalogue()
        self._version: tuple[int, datetime | None] | None = None

    def __call__(self) -> EmojiCatalogue:
        return self._current

    async def refresh(self, *, force: bool = False) -> EmojiCatalogue:
        """Re-read the catalogue if the usable emoji changed (or when forced)."""
        async with self._db.read() as session:
            version = await stored.usable_version(session)
            if force or version != self._version:
                self._current = catalogue_of(await stored.usable(session))
                self._version = version
        return self._current


def as_tag(settings: Settings, row: CustomEmoji) -> dict[str, Any]:
    """The ActivityStreams `Emoji` tag of one of this node's emoji, as Mastodon sends it."""
    return {
        "id": row.uri or settings.url(f"/emojis/{row.id}"),
        "type": "Emoji",
        "name": f":{row.shortcode}:",
        "updated": row.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "icon": {
            "type": "Image",
            "mediaType": row.content_type or "image/png",
            "url": image_url(settings, row.image_path or ""),
        },
    }
