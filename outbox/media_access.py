"""Who may load an attachment: the rule behind `/media/attachments/…` and `/media/remote/…`.

A file is as confidential as the post it belongs to. Attachments of public and unlisted posts
are anyone's; those of followers-only, direct, local-only, members-only-group and held posts
load only for people who may see the post (models.visibility), or for a node that has a
follower or recipient of it (a signed fetch). An upload no post uses — never attached, or left
over from a deleted post — is its uploader's alone. The decision reads the rows at every
request, so a deleted post's files stop loading at once, whatever happens to the bytes.

Apps load images without sending their token, so the API hands each viewer URLs signed for
them (`signed_query`): an HMAC with a key derived from SECRET_KEY over the path, the viewer's
account id and an expiry. A signed URL names its viewer, who must still be allowed when it is
used; one that leaks stops working when it expires.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.account import Account
from models.relationship import Block, Follow
from models.settings import Settings
from models.status import GROUP_ONLY, MediaAttachment, Mention, Status
from models.visibility import OPEN, can_see

MAX_ID = 2**63 - 1
SIGNATURE_BYTES = 24


# --- signed URLs -----------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _key(secret: str) -> bytes:
    # A key of its own: a media URL signature is worth nothing as a session or token MAC.
    return hashlib.sha256(b"flurfunk media url\0" + secret.encode()).digest()


def _mac(settings: Settings, path: str, viewer_id: int, expires: int) -> str:
    message = f"{path}\n{viewer_id}\n{expires}".encode()
    digest = hmac.new(_key(settings.secret_key), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:SIGNATURE_BYTES]).decode()


def expiry(settings: Settings, now: float | None = None) -> int:
    """When a URL handed out now stops working: at most MEDIA_URL_TTL from now. Rounded down
    to a quarter of it, so that a viewer gets the same URL for a while and apps can cache."""
    ttl = max(1, settings.media_url_ttl)
    step = max(1, ttl // 4)
    moment = int(time.time() if now is None else now)
    return moment // step * step + ttl


def signed_query(settings: Settings, path: str, viewer_id: int, now: float | None = None) -> str:
    """The query string that lets `viewer_id` load `path` (a URL path on this node)."""
    expires = expiry(settings, now)
    return f"viewer={viewer_id}&expires={expires}&sig={_mac(settings, path, viewer_id, expires)}"


def signed_viewer(
    settings: Settings, path: str, query: Mapping[str, str], now: float | None = None
) -> int | None:
    """The viewer a valid, unexpired signed URL names; None for anything else."""
    viewer, expires, sig = query.get("viewer", ""), query.get("expires", ""), query.get("sig", "")
    if not (_digits(viewer) and _digits(expires) and sig.isascii()):
        return None
    viewer_id, until = int(viewer), int(expires)
    if viewer_id > MAX_ID or until < (time.time() if now is None else now):
        return None
    expected = _mac(settings, path, viewer_id, until)
    return viewer_id if hmac.compare_digest(expected.encode(), sig.encode()) else None


def _digits(text: str) -> bool:
    return 0 < len(text) <= 19 and text.isascii() and text.isdigit()


# --- what a file belongs to ------------------------------------------------------------


@dataclass(frozen=True)
class Guard:
    """Who may load one stored file: everyone (`public`), or whoever may see one of
    `statuses`, or its uploader (`owner_id`, for an upload no post uses)."""

    public: bool
    statuses: Sequence[Status] = ()
    owner_id: int | None = None

    async def admits(self, session: AsyncSession, viewer_id: int | None) -> bool:
        if self.public:
            return True
        if viewer_id is None:
            return False
        if self.owner_id is not None and viewer_id == self.owner_id:
            return True
        for status in self.statuses:
            if await can_see(session, viewer_id, status):
                return True
        return False

    async def admits_host(self, session: AsyncSession, host: str) -> bool:
        """A signed fetch by the node at `host` (host[:port]): allowed when someone there
        may see the post."""
        if self.public:
            return True
        for status in self.statuses:
            if await host_may_see(session, host, status):
                return True
        return False


NOBODY = Guard(public=False)


def _is_open(status: Status) -> bool:
    return status.visibility in OPEN and not status.held


def _guard_of(rows: Sequence[tuple[MediaAttachment, Status | None]]) -> Guard:
    statuses = [status for _, status in rows if status is not None]
    if any(_is_open(s) for s in statuses):
        return Guard(public=True)
    return Guard(public=False, statuses=statuses)


async def local_attachment(session: AsyncSession, relative: str) -> Guard | None:
    """The guard of `attachments/<id>/<random>/<file>` (a path under MEDIA_DIR, already
    normalised); None when no attachment row names exactly this file."""
    parts = relative.split("/")
    if len(parts) != 4 or parts[0] != "attachments" or not _digits(parts[1]):
        return None
    media_id = int(parts[1])
    if media_id > MAX_ID:
        return None
    query = (
        select(MediaAttachment, Status)
        .outerjoin(Status, Status.id == MediaAttachment.status_id)
        .where(MediaAttachment.id == media_id)
    )
    found = (await session.execute(query)).first()
    if found is None:
        return None
    media, status = found
    if relative not in (media.file_path, media.preview_path):
        return None  # a replaced preview, or a guessed name in a real folder
    if status is None:
        return Guard(public=False, owner_id=media.account_id)
    return _guard_of([(media, status)])


async def remote_copy(session: AsyncSession, url: str) -> Guard:
    """The guard of this node's copy of a remote file. A file no attachment names (an
    avatar, a header, a link preview's image) is public; an attachment's is as confidential
    as the most open post that carries it, and nobody's once no post carries it."""
    query = (
        select(MediaAttachment, Status)
        .outerjoin(Status, Status.id == MediaAttachment.status_id)
        .where(MediaAttachment.remote_url == url)
    )
    rows = [(media, status) for media, status in (await session.execute(query)).all()]
    if not rows:
        return Guard(public=True)
    return _guard_of(rows)


# --- nodes -----------------------------------------------------------------------------


async def host_may_see(session: AsyncSession, host: str, status: Status) -> bool:
    """Whether an account on `host` may see `status`: a follower of its author (followers
    only), someone it mentions (followers only, direct), a member of its group (group; for
    a group on another node, see below). Local-only and held posts never leave this node."""
    if _is_open(status):
        return True
    if status.visibility == "local" or status.held:
        return False
    on_host = Account.domain == host.lower()  # stored as federation.values.authority has it
    mentioned = exists(
        select(Mention.status_id).where(
            Mention.status_id == status.id, Mention.account_id == Account.id
        )
    )
    follows = exists(
        select(Follow.id).where(
            Follow.account_id == Account.id, Follow.target_account_id == status.account_id
        )
    )
    member = exists(
        select(Follow.id).where(
            Follow.account_id == Account.id, Follow.target_account_id == status.audience_id
        )
    )
    blocked = exists(
        select(Block.id).where(
            Block.account_id == status.account_id, Block.target_account_id == Account.id
        )
    )
    if status.visibility == GROUP_ONLY:
        group_host = await session.scalar(
            select(Account.domain).where(Account.id == status.audience_id)
        )
        if group_host is not None:
            # The group's own node decides who receives its posts, and this node does not
            # know its members: any allowed node that signs the fetch is let through.
            return True
        reader = or_(member, Account.id == status.audience_id)
    elif status.visibility == "private":
        reader = or_(follows, mentioned)
    else:  # direct
        reader = mentioned
    query = select(Account.id).where(on_host, reader, ~blocked).limit(1)
    return (await session.execute(query)).first() is not None
