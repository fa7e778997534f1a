"""Editing one's own statuses, as Mastodon does: every revision is kept for /history (the
original too), mentions and tags follow the new text, boosters hear of it, and other nodes get
an Update — all in the caller's write transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.account import Account
from models.base import utcnow
from models.settings import Settings
from models.status import MediaAttachment, Mention, Status, StatusEdit
from outbox import events, federate, group_posts, link_preview, note_documents, watch
from outbox.content import MentionTarget
from outbox.context import Federation
from outbox.notify import notify, notify_boosters
from outbox.status_parts import (
    InvalidStatus,
    MentionResolver,
    NotPermitted,
    attach_media,
    attachable_media,
    check_content_type,
    check_length,
    load_visible,
    render_body,
    store_mentions,
    store_tags,
)


@dataclass(frozen=True)
class Edit:
    """What a client sent to PUT /api/v1/statuses/:id; None keeps the current value."""

    text: str | None = None
    content_type: str | None = None
    spoiler_text: str | None = None
    sensitive: bool | None = None
    language: str | None = None
    media_ids: tuple[int, ...] | None = None


def snapshot(status: Status, media_ids: list[int]) -> StatusEdit:
    """The status as it reads now, as one revision in its history."""
    return StatusEdit(
        status_id=status.id,
        text=status.text,
        content=status.content,
        spoiler_text=status.spoiler_text,
        sensitive=status.sensitive,
        media_ids=media_ids,
    )


async def keep_original(session: AsyncSession, status: Status, media_ids: list[int]) -> None:
    """Call before changing a status: on its first edit, the original becomes the oldest
    revision (dated when it was posted)."""
    has_edits = await session.scalar(
        select(StatusEdit.id).where(StatusEdit.status_id == status.id).limit(1)
    )
    if has_edits is None:
        original = snapshot(status, media_ids)
        original.created_at = status.created_at
        session.add(original)


@dataclass(frozen=True)
class _Revision:
    text: str
    spoiler_text: str
    content_type: str
    sensitive: bool
    language: str | None
    media: list[MediaAttachment] | None  # None: attachments unchanged
    media_ids: list[int]


async def _revise(
    session: AsyncSession, settings: Settings, status: Status, change: Edit, old_media: list[int]
) -> _Revision:
    """The status as the edit would leave it, checked like a new post."""
    text = status.text if change.text is None else change.text
    spoiler_text = status.spoiler_text if change.spoiler_text is None else change.spoiler_text
    content_type = change.content_type or status.content_type
    check_content_type(content_type)
    check_length(settings, text, spoiler_text)
    media = None
    if change.media_ids is not None:
        media = await attachable_media(session, status.account_id, change.media_ids, status.id)
    media_ids = old_media if media is None else [m.id for m in media]
    if not text.strip() and not media_ids:
        raise InvalidStatus("Text can't be blank")
    sensitive = status.sensitive if change.sensitive is None else change.sensitive
    if change.sensitive is not None or change.spoiler_text is not None:
        sensitive = sensitive or bool(spoiler_text)
    language = status.language if change.language is None else change.language or None
    return _Revision(text, spoiler_text, content_type, sensitive, language, media, media_ids)


def _unchanged(status: Status, revision: _Revision, old_media: list[int]) -> bool:
    return (
        revision.text == status.text
        and revision.spoiler_text == status.spoiler_text
        and revision.content_type == status.content_type
        and revision.sensitive == status.sensitive
        and revision.language == status.language
        and sorted(revision.media_ids) == old_media
    )


async def edit_status(
    session: AsyncSession,
    settings: Settings,
    author: Account,
    status_id: int,
    change: Edit,
    *,
    resolver: MentionResolver | None = None,
    fed: Federation | None = None,
) -> Status:
    """Edit one's own status, keeping every revision; boosters get an `update` notification."""
    status = await load_visible(session, author.id, status_id, lock=True)
    if status.account_id != author.id:
        raise NotPermitted()
    if status.reblog_of_id is not None:
        raise InvalidStatus("A boost cannot be edited")
    attached = select(MediaAttachment.id).where(MediaAttachment.status_id == status.id)
    old_media = list((await session.execute(attached.order_by(MediaAttachment.id))).scalars())
    revision = await _revise(session, settings, status, change, old_media)
    if _unchanged(status, revision, old_media):
        return status  # nothing changed: no revision, nobody notified (as Mastodon)

    await keep_original(session, status, old_media)
    rendered = await render_body(
        session, settings, author.id, revision.text, revision.content_type, resolver
    )
    status.text, status.spoiler_text = revision.text, revision.spoiler_text
    status.content_type, status.content = revision.content_type, rendered.html
    status.sensitive, status.language = revision.sensitive, revision.language
    status.edited_at = utcnow()
    if revision.media is not None:
        await session.execute(
            update(MediaAttachment)
            .where(
                MediaAttachment.status_id == status.id,
                MediaAttachment.id.not_in(revision.media_ids),
            )
            .values(status_id=None)
            .execution_options(synchronize_session=False)
        )
        await attach_media(session, status.id, revision.media)
    session.add(snapshot(status, revision.media_ids))
    await session.flush()
    await link_preview.track(session, status)
    mentioned_before = await note_documents.mentioned_accounts(session, status.id)
    await _refresh_metadata(session, status, rendered.mentions, rendered.tags)
    await notify_boosters(session, status)
    # An edit is scanned again (reported on a match); only a new post can be held back.
    await watch.watch_local(session, status, may_hold=False)
    if status.audience_id is not None:
        await group_posts.update(session, fed, author, status)
    else:
        await federate.update_note(session, fed, author, status, mentioned_before)
    events.edited(session, status)
    return status


async def _refresh_metadata(
    session: AsyncSession, status: Status, mentions: list[MentionTarget], tags: list[str]
) -> None:
    """Replace mentions and tags; new mentions are notified.

    Who could read a private or direct post stays able to (Mastodon keeps such mentions too).
    """
    before = set(
        (
            await session.execute(select(Mention.account_id).where(Mention.status_id == status.id))
        ).scalars()
    )
    keep = before if status.visibility in ("private", "direct") else set()
    await session.execute(
        delete(Mention).where(Mention.status_id == status.id, Mention.account_id.not_in(keep))
    )
    mentioned = await store_mentions(session, status.id, mentions, skip=keep)
    for account in mentioned:
        if account.id not in before:
            await notify(
                session,
                recipient=account,
                actor_id=status.account_id,
                type="mention",
                status_id=status.id,
            )
    await store_tags(session, status.id, tags, replace=True)
