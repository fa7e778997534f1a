"""Posting and deleting statuses (editing: outbox.status_edits).

Each action runs inside the caller's write transaction: the status, its mentions, tags and
attachments, the counters, the notifications and the home-feed entries commit together.
Counters follow Mastodon: a direct message counts in nobody's statuses_count, and only
replies that everyone on the node may see count in their parent's replies_count.
With federation (`fed`), the Create, Update or Delete for other nodes is queued in the same
transaction; `local` posts never leave the node. Remote mentions resolve only through the
`resolver` given (which must not touch the network inside the transaction: resolve first).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.account import Account, User
from models.base import utcnow
from models.ids import new_id
from models.notification import Notification
from models.settings import Settings
from models.status import IdempotencyKey, MediaAttachment, Status
from outbox import (
    events,
    federate,
    feeds,
    group_posts,
    legal_holds,
    link_preview,
    note_documents,
    stream_channels,
    watch,
)
from outbox.content import PLAIN, Rendered
from outbox.context import Federation
from outbox.notify import notify, withdraw
from outbox.polls import PollDraft, attach_poll
from outbox.status_parts import (
    COUNTED,
    VISIBILITY_ORDER,
    InvalidStatus,
    MentionResolver,
    StatusNotFound,
    attach_media,
    attachable_media,
    check_content_type,
    check_length,
    language_or_default,
    load_visible,
    notify_subscribers,
    render_body,
    store_mentions,
    store_tags,
    stricter,
)

IDEMPOTENCY_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class Draft:
    """What a client sent to POST /api/v1/statuses; None means "not given"."""

    text: str = ""
    content_type: str | None = None
    spoiler_text: str = ""
    sensitive: bool | None = None
    visibility: str | None = None
    language: str | None = None
    media_ids: tuple[int, ...] = ()
    in_reply_to_id: int | None = None
    application_id: int | None = None
    idempotency_key: str | None = None
    poll: PollDraft | None = None


async def earlier_post(session: AsyncSession, account_id: int, key: str) -> Status | None:
    """The status an Idempotency-Key created within the last hour, if any."""
    row = await session.get(IdempotencyKey, (account_id, key))
    if row is None or row.created_at < utcnow() - IDEMPOTENCY_WINDOW:
        return None
    return await session.get(Status, row.status_id)


async def _remember_key(session: AsyncSession, account_id: int, key: str, status_id: int) -> None:
    await session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.account_id == account_id,
            IdempotencyKey.created_at < utcnow() - IDEMPOTENCY_WINDOW,
        )
    )
    session.add(IdempotencyKey(account_id=account_id, key=key, status_id=status_id))
    await session.flush()


async def _reply_parent(
    session: AsyncSession, viewer_id: int, parent_id: int | None
) -> Status | None:
    if parent_id is None:
        return None
    parent = await load_visible(session, viewer_id, parent_id)
    if parent.reblog_of_id is not None:
        parent = await load_visible(session, viewer_id, parent.reblog_of_id)
    return parent


def _visibility(preferences: dict[str, Any], requested: str | None, parent: Status | None) -> str:
    """The requested visibility, else the author's default, never wider than the parent's."""
    if requested is not None:
        return requested
    default = preferences.get("posting:default:visibility")
    if default not in VISIBILITY_ORDER or default == "group":
        default = "public"
    return stricter(default, parent.visibility) if parent is not None else default


async def _compose(
    session: AsyncSession,
    settings: Settings,
    author: Account,
    draft: Draft,
    resolver: MentionResolver | None,
    user: User | None,
) -> tuple[Status, Rendered, list[MediaAttachment], Status | None]:
    """Check a draft and build its (unsaved) status, rendered body, attachments and parent.
    `user`: the author's, when the caller has it (else read here)."""
    if user is None or user.account_id != author.id:
        user = await session.get(User, author.id)
    preferences: dict[str, Any] = (user.preferences if user else None) or {}
    text, spoiler_text = draft.text, draft.spoiler_text
    if not text.strip() and spoiler_text.strip():
        text, spoiler_text = spoiler_text, ""  # as Mastodon: a lone warning becomes the text
    content_type = draft.content_type or PLAIN
    check_content_type(content_type)
    check_length(settings, text, spoiler_text)
    media = await attachable_media(session, author.id, draft.media_ids)
    if not text.strip() and not media:
        raise InvalidStatus("Text can't be blank")
    parent = await _reply_parent(session, author.id, draft.in_reply_to_id)
    sensitive = draft.sensitive
    if sensitive is None:
        sensitive = bool(preferences.get("posting:default:sensitive", False))
    rendered = await render_body(session, settings, author.id, text, content_type, resolver)
    group = await group_posts.audience_of(session, author, rendered.mentions, parent)
    status = Status(
        account_id=author.id,
        local=True,
        text=text,
        content_type=content_type,
        content=rendered.html,
        spoiler_text=spoiler_text,
        sensitive=sensitive or bool(spoiler_text),
        visibility=_visibility(preferences, draft.visibility, parent),
        language=language_or_default(draft.language, preferences),
        in_reply_to_id=parent.id if parent else None,
        in_reply_to_account_id=parent.account_id if parent else None,
        thread_id=(parent.thread_id or parent.id) if parent else None,
        application_id=draft.application_id,
    )
    await group_posts.address(session, author, status, group)
    return status, rendered, media, parent


@dataclass(frozen=True)
class Posted:
    """A posted status; `parts`: what was stored with it (None for an Idempotency-Key
    repeat, which stored nothing), so that its Note and its API answer need no reading back."""

    status: Status
    parts: note_documents.NewParts | None

    @property
    def new(self) -> bool:
        return self.parts is not None


async def post_status(
    session: AsyncSession,
    settings: Settings,
    author: Account,
    draft: Draft,
    *,
    resolver: MentionResolver | None = None,
    fed: Federation | None = None,
) -> tuple[Status, bool]:
    """Post a status; returns it and whether it is new (False: an Idempotency-Key repeat)."""
    posted = await post(session, settings, author, draft, resolver=resolver, fed=fed)
    return posted.status, posted.new


async def post(
    session: AsyncSession,
    settings: Settings,
    author: Account,
    draft: Draft,
    *,
    resolver: MentionResolver | None = None,
    fed: Federation | None = None,
    user: User | None = None,
) -> Posted:
    """`post_status`, with what was stored along with the status; `user`: the author's row
    when the caller has it (the API has, from the token), which spares reading it again."""
    if draft.idempotency_key:
        earlier = await earlier_post(session, author.id, draft.idempotency_key)
        if earlier is not None:
            return Posted(earlier, None)
    status, rendered, media, parent = await _compose(
        session, settings, author, draft, resolver, user
    )
    status.id = new_id()  # known before the INSERT, so the URIs go in with it
    status.uri = settings.url(f"/users/{author.username}/statuses/{status.id}")
    status.url = settings.url(f"/@{author.username}/{status.id}")
    session.add(status)
    await session.flush()
    mentioned = await store_mentions(session, status.id, rendered.mentions)
    tags = await store_tags(session, status.id, rendered.tags)
    await attach_media(session, status.id, media)
    await link_preview.track(session, status, new=True)
    poll = None
    if draft.poll is not None:
        if media:
            raise InvalidStatus("a status cannot have both a poll and media")
        poll = await attach_poll(session, status, draft.poll)
    parts = note_documents.NewParts(
        mentioned=sorted(mentioned, key=lambda a: a.id),
        tags=tags,
        media=sorted(media, key=lambda m: m.id),
        poll=poll,
    )
    await count_new(session, author, status, parent)
    if draft.idempotency_key:
        await _remember_key(session, author.id, draft.idempotency_key, status.id)
    await watch.watch_local(session, status)
    if status.held:
        # Held by a compliance watch term: only its author sees it until it is released
        # (outbox.watch.release then does what follows here).
        await feeds.fan_out(session, status, audience="author", author=author)
        return Posted(status, parts)
    for account in mentioned:
        await notify(
            session, recipient=account, actor_id=author.id, type="mention", status_id=status.id
        )
    broadcast = await stream_channels.broadcast_channels(
        session,
        status,
        tags=list(dict.fromkeys(t.lower() for t in rendered.tags)),
        has_media=bool(media),
    )
    await feeds.fan_out(session, status, author=author, mentioned=mentioned, broadcast=broadcast)
    await notify_subscribers(session, status)
    if status.audience_id is not None:
        await group_posts.create(session, fed, author, status)
    else:
        await federate.create_note(session, fed, author, status, new=parts)
    return Posted(status, parts)


async def count_new(
    session: AsyncSession, author: Account, status: Status, parent: Status | None
) -> None:
    """Counters of a new status: the author's statuses (not for direct messages) and its
    parent's replies; shared by local posts and notes arriving from other nodes."""
    if status.visibility != "direct":
        await session.execute(
            update(Account)
            .where(Account.id == author.id)
            .values(
                statuses_count=Account.statuses_count + 1, last_status_at=status.created_at.date()
            )
            .execution_options(synchronize_session=False)
        )
    if parent is not None and status.visibility in COUNTED:
        await session.execute(
            update(Status)
            .where(Status.id == parent.id)
            .values(replies_count=Status.replies_count + 1)
            .execution_options(synchronize_session=False)
        )


async def delete_status(
    session: AsyncSession,
    author: Account,
    status_id: int,
    *,
    fed: Federation | None = None,
    by: str = "author",
) -> Status:
    """Delete one's own status (or boost), with its boosts and the notifications about it.

    Returns the row as it was, for the delete-and-redraft answer; its attachments are left
    unattached so that a redraft can use them again. Under a legal hold the post is copied
    into the hold archive first (`by` says who deleted it: outbox.legal_holds), so that it
    is hidden rather than erased; a hold on the group it was posted in counts too.
    """
    status = await session.get(Status, status_id, with_for_update=True)
    if status is None or status.account_id != author.id:
        raise StatusNotFound()
    if await legal_holds.holds_status(session, status):
        await legal_holds.preserve(session, status, by)
    # While its audience is known:
    if status.audience_id is not None and status.reblog_of_id is None:
        await group_posts.delete(session, fed, author, status)
    else:
        await federate.delete_note(session, fed, author, status)
    await events.removing(session, status)
    boosts = (
        await session.execute(select(Status).where(Status.reblog_of_id == status.id))
    ).scalars()
    for boost in list(boosts):
        await events.removing(session, boost)
        await _discount(session, boost)
        await session.execute(delete(Status).where(Status.id == boost.id))
    await session.execute(delete(Notification).where(Notification.status_id == status.id))
    await _discount(session, status)
    await session.execute(
        update(MediaAttachment)
        .where(MediaAttachment.status_id == status.id)
        .values(status_id=None, unattached_since=utcnow())
        .execution_options(synchronize_session=False)
    )
    await session.execute(delete(Status).where(Status.id == status.id))
    return status


async def _discount(session: AsyncSession, status: Status) -> None:
    """Undo the counters a status added when it was posted."""
    if status.visibility != "direct":
        await session.execute(
            update(Account)
            .where(Account.id == status.account_id, Account.statuses_count > 0)
            .values(statuses_count=Account.statuses_count - 1)
            .execution_options(synchronize_session=False)
        )
    if status.reblog_of_id is not None:
        await session.execute(
            update(Status)
            .where(Status.id == status.reblog_of_id, Status.reblogs_count > 0)
            .values(reblogs_count=Status.reblogs_count - 1)
            .execution_options(synchronize_session=False)
        )
        await withdraw(
            session, actor_id=status.account_id, type="reblog", status_id=status.reblog_of_id
        )
    if status.in_reply_to_id is not None and status.visibility in COUNTED:
        await session.execute(
            update(Status)
            .where(Status.id == status.in_reply_to_id, Status.replies_count > 0)
            .values(replies_count=Status.replies_count - 1)
            .execution_options(synchronize_session=False)
        )
