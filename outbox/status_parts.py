"""What status actions share: their errors, visibility rules, and the rows hanging off a status
(rendered body, mentions, tags, attachments)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from models.account import Account
from models.base import utcnow
from models.db import upsert
from models.ids import new_id
from models.relationship import Block, Follow
from models.settings import Settings
from models.status import MediaAttachment, Mention, Status, StatusTag, Tag
from models.visibility import can_see
from outbox.content import (
    CONTENT_TYPES,
    Handle,
    MentionTarget,
    Rendered,
    countable_length,
    mentioned_handles,
    render,
)
from outbox.notify import notify

# From the widest audience to the narrowest; `local` is everyone on this node only.
VISIBILITY_ORDER = ("public", "unlisted", "local", "private", "direct", "group")
COUNTED = ("public", "unlisted", "local")  # replies that count in their parent's replies_count
MAX_MEDIA = 4
AUDIO_VIDEO = ("video", "gifv", "audio")

# Looks up `@name@host` on another node; federation plugs one in, until then such handles
# stay plain text.
MentionResolver = Callable[[AsyncSession, Handle], Awaitable[Account | None]]


class StatusProblem(Exception):
    """Why a status action cannot be done; the message is fit for the client."""

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


class InvalidStatus(StatusProblem):
    """Bad input (answered 422, "Validation failed: …")."""


class StatusNotFound(StatusProblem):
    """No such status, or not one the caller may see (answered 404)."""


class NotPermitted(StatusProblem):
    """The caller sees the status but may not do this to it (answered 403)."""


def stricter(first: str, second: str) -> str:
    return max(first, second, key=VISIBILITY_ORDER.index)


def language_or_default(language: str | None, preferences: Mapping[str, Any]) -> str | None:
    """An ISO 639 code as given, else the author's default; an unusable one is ignored."""
    for candidate in (language, preferences.get("posting:default:language")):
        if isinstance(candidate, str) and 2 <= len(candidate) <= 16:
            cleaned = candidate.strip().replace("_", "-")
            if cleaned.replace("-", "").isalnum() and cleaned.isascii():
                return cleaned.lower()
    return None


def check_length(settings: Settings, text: str, spoiler_text: str) -> None:
    limit = settings.max_status_chars
    if countable_length(spoiler_text + text) > limit:
        raise InvalidStatus(f"Text character limit of {limit} exceeded")


def check_content_type(content_type: str) -> None:
    if content_type not in CONTENT_TYPES:
        raise InvalidStatus(f"content_type must be one of {', '.join(CONTENT_TYPES)}")


async def load_visible(
    session: AsyncSession, viewer_id: int | None, status_id: int, *, lock: bool = False
) -> Status:
    """The status, if `viewer_id` may see it; `lock` holds its row until the commit."""
    query = select(Status).where(Status.id == status_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    status = (await session.execute(query)).scalar_one_or_none()
    if status is None or not await can_see(session, viewer_id, status):
        raise StatusNotFound()
    return status


async def render_body(
    session: AsyncSession,
    settings: Settings,
    author_id: int,
    text: str,
    content_type: str,
    resolver: MentionResolver | None = None,
) -> Rendered:
    """Render text with the mentions that resolve: local accounts, and remote ones when a
    resolver is given. Accounts the author blocks are not mentioned (as on Mastodon)."""
    handles = mentioned_handles(text, settings.domain)
    found: dict[Handle, Account] = {}
    local_names = [h.username for h in handles if h.domain is None]
    if local_names:
        accounts = await session.execute(
            select(Account).where(
                Account.domain.is_(None),
                func.lower(Account.username).in_(local_names),
                Account.suspended_at.is_(None),
            )
        )
        found.update((Handle(a.username.lower()), a) for a in accounts.scalars())
    if resolver is not None:
        for handle in handles:
            remote = await resolver(session, handle) if handle.domain is not None else None
            if remote is not None:
                found[handle] = remote
    blocked = set()
    if found:
        blocked = set(
            (
                await session.execute(
                    select(Block.target_account_id).where(
                        Block.account_id == author_id,
                        Block.target_account_id.in_([a.id for a in found.values()]),
                    )
                )
            ).scalars()
        )
    targets = {
        handle: MentionTarget(a.id, a.username, a.url or a.uri or settings.url(f"/@{a.username}"))
        for handle, a in found.items()
        if a.id not in blocked
    }
    return render(text, public_url=settings.public_url, content_type=content_type, mentions=targets)


async def attachable_media(
    session: AsyncSession, account_id: int, ids: Sequence[int], status_id: int | None = None
) -> list[MediaAttachment]:
    """The caller's attachments, in the order given, that are free (or on `status_id`)."""
    if len(ids) > MAX_MEDIA:
        raise InvalidStatus(f"Cannot attach more than {MAX_MEDIA} files")
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return []
    free: ColumnElement[bool] = MediaAttachment.status_id.is_(None)
    if status_id is not None:
        free = or_(free, MediaAttachment.status_id == status_id)
    rows = await session.execute(
        select(MediaAttachment).where(
            MediaAttachment.id.in_(wanted), MediaAttachment.account_id == account_id, free
        )
    )
    found = {m.id: m for m in rows.scalars()}
    missing = [str(i) for i in wanted if i not in found]
    if missing:
        raise InvalidStatus(f"Media attachment not found: {', '.join(missing)}")
    media = [found[i] for i in wanted]
    if len(media) > 1 and any(m.type in AUDIO_VIDEO for m in media):
        raise InvalidStatus("Cannot attach a video to a post that already contains images")
    if any(m.processing or (m.file_path is None and m.remote_url is None) for m in media):
        raise InvalidStatus(
            "Cannot attach files that have not finished processing. Try again in a moment!"
        )
    return media


async def attach_media(
    session: AsyncSession, status_id: int, media: Iterable[MediaAttachment]
) -> None:
    media = list(media)
    ids = [m.id for m in media]
    if ids:
        await session.execute(
            update(MediaAttachment)
            .where(MediaAttachment.id.in_(ids))
            .values(status_id=status_id)
            .execution_options(synchronize_session=False)
        )
    for m in media:
        # The session's objects say what the row now says, without an UPDATE of their own:
        # the answer to the post is presented from them.
        set_committed_value(m, "status_id", status_id)


async def store_mentions(
    session: AsyncSession,
    status_id: int,
    targets: Iterable[MentionTarget],
    *,
    skip: Iterable[int] = (),
) -> list[Account]:
    """Record the mentions; returns the mentioned accounts (for notifications)."""
    skipped = set(skip)
    ids = [t.account_id for t in targets if t.account_id not in skipped]
    if not ids:
        return []
    await session.execute(
        upsert(session, Mention)
        .values([{"status_id": status_id, "account_id": account_id} for account_id in ids])
        .on_conflict_do_nothing(index_elements=["status_id", "account_id"])
    )
    rows = await session.execute(select(Account).where(Account.id.in_(ids)))
    accounts = {a.id: a for a in rows.scalars()}
    return [accounts[i] for i in ids if i in accounts]


async def store_tags(
    session: AsyncSession,
    status_id: int,
    names: Iterable[str],
    *,
    replace: bool = False,
    known: dict[str, Tag] | None = None,
) -> list[Tag]:
    """Link the status to its hashtags, creating tags seen for the first time; returns the
    tags by name (a new post's Note is built from them). One statement per kind of row.
    `known`: tags by name that the caller has at hand; the ones read here are added to it."""
    if replace:
        await session.execute(delete(StatusTag).where(StatusTag.status_id == status_id))
    wanted = list(dict.fromkeys(n.lower() for n in names))
    if not wanted:
        return []
    missing = [name for name in wanted if known is None or name not in known]
    tags: list[Tag] = []
    if missing:
        now = utcnow()
        await session.execute(
            upsert(session, Tag)
            .values([{"id": new_id(), "name": name, "created_at": now} for name in missing])
            .on_conflict_do_nothing(index_elements=["name"])
        )
        read = await session.execute(select(Tag).where(Tag.name.in_(missing)).order_by(Tag.name))
        tags = list(read.scalars().all())
    if known is not None:
        known.update((tag.name, tag) for tag in tags)
        tags = [known[name] for name in wanted if name in known]
    await session.execute(
        upsert(session, StatusTag)
        .values([{"status_id": status_id, "tag_id": tag.id} for tag in tags])
        .on_conflict_do_nothing(index_elements=["status_id", "tag_id"])
    )
    return tags


async def notify_subscribers(
    session: AsyncSession, status: Status, subscribers: list[Account] | None = None
) -> None:
    """`status` notifications for followers who asked to hear of every new post (the bell).

    As on Mastodon: not for direct messages, nor for replies to someone else. `subscribers`
    (`bell_subscribers` of the author), when the caller has them, are not read again.
    """
    if status.visibility in ("direct", "group") or status.reblog_of_id is not None:
        return
    if status.in_reply_to_account_id not in (None, status.account_id):
        return
    if subscribers is None:
        subscribers = await bell_subscribers(session, status.account_id)
    for subscriber in subscribers:
        await notify(
            session,
            recipient=subscriber,
            actor_id=status.account_id,
            type="status",
            status_id=status.id,
        )


async def bell_subscribers(session: AsyncSession, account_id: int) -> list[Account]:
    """Local followers of `account_id` who asked to hear of its every new post."""
    rows = await session.execute(
        select(Account)
        .join(Follow, Follow.account_id == Account.id)
        .where(
            Follow.target_account_id == account_id,
            Follow.notify.is_(True),
            Account.domain.is_(None),
        )
    )
    return list(rows.scalars())
