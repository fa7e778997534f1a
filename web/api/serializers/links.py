"""The URLs that presented entities may carry: this node's own, and remote ones whose host the
allowlist admits at the moment they are served.

Remote documents name avatars, headers, attachments and emoji by URL, and apps load those by
themselves: handed out unchecked, such a URL makes every app connect wherever a remote document
points (a host removed from the allowlist, a port on the loopback). Until remote media is
cached on the node, a URL whose host is not allowed is replaced by a placeholder the node serves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from federation.allowlist import Allowlist, PatternError, url_host_port
from models.remote_file import key_of
from models.settings import Settings
from outbox.emoji_catalogue import EmojiCatalogue
from outbox.media_access import signed_query

MISSING_AVATAR = "/static/avatar.png"
MISSING_HEADER = "/static/header.png"
MISSING_MEDIA = "/static/missing.png"
# Where a browser and urlsplit may disagree on the host: browsers read `\` as `/` (so
# `http://evil.example\@allowed.example/` goes to evil.example), and drop or stop at spaces
# and control characters.
_AMBIGUOUS = re.compile(r"[\\\x00-\x20\x7f]")


@dataclass(frozen=True)
class Links:
    """Builds the URLs of one response, with the allowlist as it was when it began."""

    settings: Settings
    allowlist: Allowlist
    emoji_catalogue: EmojiCatalogue = field(default_factory=EmojiCatalogue)
    previews: Allowlist | None = None  # where link previews may come from (PREVIEW_HOSTS too)

    def local(self, path: str) -> str:
        """An absolute URL on this node (from PUBLIC_URL)."""
        return self.settings.url(path)

    def signed(self, url: str | None, viewer_id: int | None) -> str | None:
        """A URL of this node's for one viewer of a confidential file: apps load images
        without their token, so the URL itself proves who it was handed to, for a while."""
        base = self.settings.url("")
        if url is None or viewer_id is None or not url.startswith(base + "/media/"):
            return url
        path = url[len(base) :]
        return url + "?" + signed_query(self.settings, path, viewer_id)

    def allowed(self, url: str | None) -> str | None:
        """A remote URL when its host is allowed now, else None (also when an app might read
        another host from it than we do)."""
        if not url or not url.startswith(("http://", "https://")) or _AMBIGUOUS.search(url):
            return None
        try:
            host, _ = url_host_port(url)
        except (PatternError, ValueError):  # ValueError: an unclosed IPv6 literal
            return None
        return url if host.isascii() and self.allowlist.allows_url(url) else None

    def cached(self, url: str | None) -> str | None:
        """This node's copy of a remote file (`/media/remote/<key>`, which answers 404 until
        the copy exists), when the file's host is allowed now; else None."""
        if self.allowed(url) is None and not self._preview_allowed(url):
            return None
        assert url is not None
        return self.local(f"/media/remote/{key_of(url)}")

    def _preview_allowed(self, url: str | None) -> bool:
        if self.previews is None or not url or _AMBIGUOUS.search(url):
            return False
        return url.startswith(("http://", "https://")) and self.previews.allows_url(url)

    def remote(self, url: str | None, placeholder: str) -> str:
        """This node's copy of a remote file when its host is allowed now, else the node's
        placeholder: apps never load another host's URL."""
        return self.cached(url) or self.local(placeholder)

    def emojis(self, domain: str | None, *texts: str | None) -> list[dict[str, Any]]:
        """Mastodon's `emojis` of an entity: the custom emoji of the author's node (`domain`,
        None for this node) that its texts name and whose image this node serves."""
        return [ref.entity(self.settings) for ref in self.emoji_catalogue.used(domain, *texts)]
