"""Polls from other nodes, and votes from other nodes on ours (see outbox.poll_federation).

A Question is stored like any note, plus its poll; an Update of it brings the counts its home
node has now. A vote is a Note named after one option, in reply to one of our Questions and
without content: it is counted, never stored as a status.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from inbox.dispatch import Incoming
from inbox.parse import first, plain, text, timestamp, uri_of
from inbox.targets import status_by_uri
from models.poll import Poll, PollVote
from models.status import Status
from outbox import poll_federation, polls

MAX_OPTIONS = 20
MAX_OPTION = 200
MAX_COUNT = 2**31 - 1


@dataclass(frozen=True)
class RemotePoll:
    """The poll of a Question: options with the counts its home node reported."""

    options: tuple[str, ...]
    tallies: tuple[int, ...]
    multiple: bool
    ends_at: datetime | None
    voters_count: int | None


def poll_of(document: Any) -> RemotePoll | None:
    """A Question's poll (`oneOf`, or `anyOf` for several choices); None for other notes."""
    if not isinstance(document, dict) or document.get("type") != "Question":
        return None
    multiple = "anyOf" in document and "oneOf" not in document
    items = document.get("anyOf" if multiple else "oneOf")
    options: list[str] = []
    tallies: list[int] = []
    for item in (items if isinstance(items, list) else [items])[:MAX_OPTIONS]:
        if not isinstance(item, dict):
            continue
        name = plain(item.get("name"), MAX_OPTION)
        if not name or name in options:
            continue
        replies = item.get("replies")
        count = replies.get("totalItems") if isinstance(replies, dict) else None
        options.append(name)
        tallies.append(count if isinstance(count, int) and 0 <= count <= MAX_COUNT else 0)
    if not options:
        return None  # a Question without options reads as a plain note
    closed = document.get("closed")
    voters = document.get("votersCount")
    return RemotePoll(
        options=tuple(options),
        tallies=tuple(tallies),
        multiple=multiple,
        # `closed` is a time (Mastodon) or `true`; a closed poll without a time ends now.
        ends_at=timestamp(closed)
        or (datetime.now(UTC) if closed is True else timestamp(document.get("endTime"))),
        voters_count=voters if isinstance(voters, int) and 0 <= voters <= MAX_COUNT else None,
    )


def _counts(poll: RemotePoll) -> dict[str, Any]:
    votes = sum(poll.tallies)
    # Without votersCount, a one-choice poll has one voter per vote; for several choices it
    # is unknown, and Mastodon's clients then show the votes.
    voters = poll.voters_count if poll.voters_count is not None else votes
    return {
        "tallies": list(poll.tallies),
        "votes_count": votes,
        "voters_count": voters if not poll.multiple or poll.voters_count is not None else 0,
        "expires_at": poll.ends_at,
    }


def add_poll(session: AsyncSession, status: Status, document: Any) -> None:
    """Store the poll of a newly stored remote Question."""
    poll = poll_of(document)
    if poll is not None:
        session.add(
            Poll(
                status_id=status.id,
                account_id=status.account_id,
                options=list(poll.options),
                multiple=poll.multiple,
                **_counts(poll),
            )
        )


async def refresh_poll(session: AsyncSession, status: Status, document: Any) -> None:
    """Apply the counts of an Updated Question. New options make it a new poll: the votes
    cast here named the old ones, so they are dropped (as Mastodon does)."""
    fresh = poll_of(document)
    stored = await session.scalar(select(Poll).where(Poll.status_id == status.id))
    if fresh is None or stored is None:
        return
    if list(fresh.options) != stored.options or fresh.multiple != stored.multiple:
        await session.execute(delete(PollVote).where(PollVote.poll_id == stored.id))
        stored.options, stored.multiple = list(fresh.options), fresh.multiple
    for column, value in _counts(fresh).items():
        setattr(stored, column, value)
    await session.flush()


async def count_vote(incoming: Incoming, document: dict[str, Any]) -> bool:
    """Count a vote on one of our polls; False when the note is no vote (store it as usual).

    A vote that cannot count (an ended poll, no such option, a second vote, a voter who may
    not see the poll, a post without a poll) is dropped.
    """
    option = text(document.get("name"), MAX_OPTION).strip()
    question = uri_of(first(document.get("inReplyTo")))
    if not option or question is None or text(document.get("content")).strip():
        return False
    status = await status_by_uri(incoming.session, question)
    if status is None or not status.local:
        return False
    poll_id = await incoming.session.scalar(select(Poll.id).where(Poll.status_id == status.id))
    if poll_id is None:
        return True  # a vote on a post without a poll: it has nothing to show either
    poll = await polls.remote_vote(incoming.session, incoming.actor, poll_id, option)
    if poll is not None:
        await poll_federation.counts_changed(incoming.session, incoming.fed, status)
    return True
