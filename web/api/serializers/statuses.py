"""Statuses -> Mastodon's Status entity, a page at a time, for one viewer.

`statuses` takes ORM objects or Core rows with Status's columns (timelines pass rows) and
loads what they need in a few batched statements (see page_facts); each account on the page
is presented once and shared by every status that shows it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.account import Account
from models.status import MediaAttachment, Status, StatusEdit
from models.visibility import OPEN
from web.api.serializers.entities import (
    account,
    application,
    card,
    handle,
    iso,
    media,
    tag,
)
from web.api.serializers.links import Links
from web.api.serializers.page_facts import (
    JustWritten,
    PageFacts,
    StatusFields,
    load,
    thread_of,
)


class _Presenter:
    """Builds the Status entities of one page from its rows and their facts."""

    def __init__(self, links: Links, facts: PageFacts, viewer_id: int | None) -> None:
        self.links = links
        self.facts = facts
        self.viewer_id = viewer_id
        self._accounts: dict[int, dict[str, Any]] = {}

    def account(self, account_id: int) -> dict[str, Any]:
        presented = self._accounts.get(account_id)
        if presented is None:
            presented = account(self.facts.accounts[account_id], self.links)
            self._accounts[account_id] = presented
        return presented

    def mention(self, account_id: int) -> dict[str, Any] | None:
        m = self.facts.accounts.get(account_id)
        if m is None:
            return None
        return {
            "id": str(m.id),
            "username": m.username,
            "acct": handle(m.username, m.domain),
            "url": m.url or self.links.local(f"/@{m.username}"),
        }

    def signed_for(self, s: StatusFields) -> int | None:
        """Whom to sign a post's attachment URLs for: the viewer, unless anyone may load them."""
        confidential = s.visibility not in OPEN or getattr(s, "held", False)
        return self.viewer_id if confidential else None

    def status(self, s: StatusFields) -> dict[str, Any]:
        links, facts, viewer_id = self.links, self.facts, self.viewer_id
        author = facts.accounts[s.account_id]
        uri = s.uri or links.local(f"/users/{author.username}/statuses/{s.id}")
        mentions = (self.mention(a) for a in facts.mentions.get(s.id, ()))
        poll = facts.polls.get(s.id)
        options = [o["title"] for o in poll["options"]] if poll else []
        if poll and options:
            poll = {**poll, "emojis": links.emojis(author.domain, *options)}
        data: dict[str, Any] = {
            "id": str(s.id),
            "uri": uri,
            "url": s.url or (links.local(f"/@{author.username}/{s.id}") if s.local else uri),
            "created_at": iso(s.created_at),
            "account": self.account(s.account_id),
            "content": s.content,
            "text": s.text if viewer_id == s.account_id else None,
            # Mastodon knows no group visibility: "private" is the nearest (a closed audience).
            "visibility": "private" if s.visibility == "group" else s.visibility,
            # A moderator may have marked all the author's media sensitive.
            "sensitive": s.sensitive
            or (author.sensitized_at is not None and bool(facts.media.get(s.id))),
            "spoiler_text": s.spoiler_text,
            "language": s.language,
            "in_reply_to_id": str(s.in_reply_to_id) if s.in_reply_to_id else None,
            "in_reply_to_account_id": str(s.in_reply_to_account_id)
            if s.in_reply_to_account_id
            else None,
            "reblog": None,
            "application": application(facts.apps.get(s.application_id or 0))
            if s.local and viewer_id == s.account_id
            else None,
            "media_attachments": [
                media(m, links, self.signed_for(s)) for m in facts.media.get(s.id, ())
            ],
            "mentions": [m for m in mentions if m is not None],
            "tags": [tag(t, links) for t in facts.tags.get(s.id, ())],
            "emojis": links.emojis(author.domain, s.content, s.spoiler_text, *options),
            "card": card(facts.cards[s.id], links) if s.id in facts.cards else None,
            "poll": poll,
            "replies_count": s.replies_count,
            "reblogs_count": s.reblogs_count,
            "favourites_count": s.favourites_count,
            "edited_at": iso(s.edited_at),
            "filtered": [],
            # This node makes no quote posts, so nobody can quote this one from here; Mastodon
            # 4.5 apps read that from here and offer no quote button.
            "quote": None,
            "quote_approval": {"automatic": [], "manual": [], "current_user": "denied"},
        }
        if getattr(s, "held", False):
            data["flurfunk"] = {"pending_review": True}  # held by a compliance watch term
        if viewer_id is not None:
            favourited, bookmarked, pinned, reblogged = facts.marks
            data.update(
                favourited=s.id in favourited,
                reblogged=s.id in reblogged,
                muted=thread_of(s) in facts.muted_threads,
                bookmarked=s.id in bookmarked,
                pinned=s.id in pinned,
            )
        return data


async def statuses(
    session: AsyncSession,
    links: Links,
    rows: Sequence[StatusFields],
    viewer_id: int | None,
) -> list[dict[str, Any]]:
    """Present a page of statuses (boosts embed the boosted status) for one viewer."""
    return presented(links, rows, await load(session, rows, viewer_id), viewer_id)


def presented(
    links: Links, rows: Sequence[StatusFields], facts: PageFacts, viewer_id: int | None
) -> list[dict[str, Any]]:
    """`statuses` from facts already loaded for the viewer (page_facts.for_viewers)."""
    present = _Presenter(links, facts, viewer_id)
    out = []
    for s in rows:
        data = present.status(s)
        original = facts.originals.get(s.reblog_of_id) if s.reblog_of_id is not None else None
        if original is not None:
            data["reblog"] = present.status(original)
            data["content"] = ""
        out.append(data)
    return out


async def status(
    session: AsyncSession,
    links: Links,
    row: StatusFields,
    viewer_id: int | None,
    *,
    written: JustWritten | None = None,
) -> dict[str, Any]:
    """One status; `written`: it was just written in this transaction, carrying that."""
    if written is None:
        return (await statuses(session, links, [row], viewer_id))[0]
    facts = await load(session, [row], viewer_id, written=written)
    return presented(links, [row], facts, viewer_id)[0]


async def status_history(
    session: AsyncSession,
    links: Links,
    row: Status,
    revisions: Sequence[StatusEdit],
    viewer_id: int | None = None,
) -> list[dict[str, Any]]:
    """Mastodon's StatusEdit list, oldest first; attachments as each revision had them."""
    signed_for = viewer_id if row.visibility not in OPEN or row.held else None
    author_row = await session.get_one(Account, row.account_id)
    author = account(author_row, links)
    media_ids = {i for r in revisions for i in r.media_ids}
    attachments: dict[int, MediaAttachment] = {}
    if media_ids:
        found = await session.execute(
            select(MediaAttachment).where(MediaAttachment.id.in_(media_ids))
        )
        attachments = {m.id: m for m in found.scalars()}
    return [
        {
            "content": r.content,
            "spoiler_text": r.spoiler_text,
            "sensitive": r.sensitive,
            "created_at": iso(r.created_at),
            "account": author,
            "poll": None,
            "media_attachments": [
                media(attachments[i], links, signed_for) for i in r.media_ids if i in attachments
            ],
            "emojis": links.emojis(author_row.domain, r.content, r.spoiler_text),
        }
        for r in revisions
    ]
