"""The ActivityStreams documents of local posts and boosts, assembled from their rows: what
federation sends (outbox.federate) and what this node serves at a post's URL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.account import Account
from models.poll import Poll
from models.preview_card import PreviewCard
from models.settings import Settings
from models.status import GROUP_ONLY, MediaAttachment, Mention, Status, StatusTag, Tag
from outbox import emoji_use, render


async def mentioned_accounts(session: AsyncSession, status_id: int) -> list[Account]:
    rows = await session.execute(
        select(Account)
        .join(Mention, Mention.account_id == Account.id)
        .where(Mention.status_id == status_id)
        .order_by(Account.id)
    )
    return list(rows.scalars())


@dataclass(frozen=True)
class NewParts:
    """What a post just stored besides its row, so that its Note needs no reading back."""

    mentioned: list[Account]  # ordered by id
    tags: list[Tag]  # ordered by name
    media: list[MediaAttachment]  # ordered by id
    poll: Poll | None


async def note_document(
    session: AsyncSession,
    settings: Settings,
    status: Status,
    *,
    author: Account | None = None,
    mentioned: list[Account] | None = None,
    new: NewParts | None = None,
) -> dict[str, Any]:
    """The Note for a (non-boost) status, with its addressing, tags and attachments.

    `author` and `mentioned` (ordered by id), when the caller has them, spare reading them
    again; with `mentioned` given the status is taken as just posted, without a link preview
    yet (it is fetched after the post, and then sent as an Update). `new`: everything a post
    just stored, so that nothing of it is read back."""
    if new is not None and mentioned is None:
        mentioned = new.mentioned
    if author is None or author.id != status.account_id:
        author = await session.get(Account, status.account_id)
    assert author is not None
    parent_uri = None
    if status.in_reply_to_id is not None:
        parent = await session.get(Status, status.in_reply_to_id)
        if parent is not None:
            parent_author = await session.get(Account, parent.account_id)
            if parent_author is not None:
                parent_uri = render.status_uri(settings, parent_author, parent)
    if new is not None:
        tags, media, poll = new.tags, new.media, new.poll
    else:
        tags = list(
            (
                await session.execute(
                    select(Tag)
                    .join(StatusTag, StatusTag.tag_id == Tag.id)
                    .where(StatusTag.status_id == status.id)
                    .order_by(Tag.name)
                )
            ).scalars()
        )
        media = list(
            (
                await session.execute(
                    select(MediaAttachment)
                    .where(MediaAttachment.status_id == status.id)
                    .order_by(MediaAttachment.id)
                )
            ).scalars()
        )
        poll = await session.scalar(select(Poll).where(Poll.status_id == status.id))
    card = None
    if mentioned is None:
        card = await session.scalar(
            select(PreviewCard).where(
                PreviewCard.status_id == status.id, PreviewCard.fetched_at.is_not(None)
            )
        )
    document = render.note(
        settings,
        author,
        status,
        parent_uri=parent_uri,
        mentioned=mentioned
        if mentioned is not None
        else await mentioned_accounts(session, status.id),
        tags=tags,
        media=media,
        poll=poll,
        emojis=await emoji_use.of_status(session, status, poll),
        card=card,
    )
    group = await session.get(Account, status.audience_id) if status.audience_id else None
    if group is not None:  # FEP-1b12: the group it is posted in
        group_uri = render.actor_uri(settings, group)
        document["audience"] = group_uri
        if status.visibility == GROUP_ONLY:
            document["to"] = [group.followers_url or group_uri + "/followers"]
            document["cc"] = [group_uri]
    return document


async def boost_document(
    session: AsyncSession, settings: Settings, boost: Status
) -> dict[str, Any]:
    """The Announce for a boost."""
    booster = await session.get(Account, boost.account_id)
    original = await session.get(Status, boost.reblog_of_id or 0)
    assert booster is not None
    assert original is not None
    original_author = await session.get(Account, original.account_id)
    assert original_author is not None
    to, cc = render.addressing(settings, booster, boost.visibility, [original_author])
    uri = render.status_uri(settings, booster, boost)
    # A local boost's uri is its Announce's id already (as on Mastodon); older rows lack it.
    if boost.local and not uri.endswith("/activity"):
        uri += "/activity"
    return render.announce(
        uri,
        render.actor_uri(settings, booster),
        render.status_uri(settings, original_author, original),
        boost.created_at,
        to,
        cc,
    )
