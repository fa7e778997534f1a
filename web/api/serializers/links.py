"""The URLs that presented entities may carry: this node's own, and remote ones whose host the
allowlist admits at the moment they are served.

Remote documents name avatars, headers, attachments and emoji by URL, and apps load those by
themselves: handed out unchecked, such a URL makes every app connect wherever a remote document
points (a host removed from the allowlist, a port on the loopback). Until remote media is
cached on the node, a URL whose host is not allowed is replaced by a placeholder the node serves.
"""

from __future__ import annotations

from dataclasses import dataclass

from federation.allowlist import Allowlist
from models.settings import Settings

MISSING_AVATAR = "/static/avatar.png"
MISSING_HEADER = "/static/header.png"
MISSING_MEDIA = "/static/missing.png"


@dataclass(frozen=True)
class Links:
    """Builds the URLs of one response, with the allowlist as it was when it began."""

    settings: Settings
    allowlist: Allowlist

    def local(self, path: str) -> str:
        """An absolute URL on this node (from PUBLIC_URL)."""
        return self.settings.url(path)

    def allowed(self, url: str | None) -> str | None:
        """A remote URL when its host is allowed now, else None."""
        return url if url and self.allowlist.allows_url(url) else None

    def remote(self, url: str | None, placeholder: str) -> str:
        """A remote URL when its host is allowed now, else the node's placeholder."""
        return self.allowed(url) or self.local(placeholder)
