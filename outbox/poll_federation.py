"""Polls across nodes, as Mastodon does them.

A local poll goes out as a Question (outbox.render.question) and is sent again, as an Update,
whenever its counts change, so that readers elsewhere see the same numbers; and once more
when it closes. A vote on another node's poll goes to the poll's author alone, as one Note per
chosen option, named after the option and in reply to the Question; the author's node counts
it and sends the new counts to everyone. Until then the voter's node counts the vote itself,
so the voter sees it at once.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.account import Account
from models.base import utcnow
from models.poll import Poll, PollVote
from models.status import Status
from outbox import render
from outbox.context import Federation
from outbox.deliveries import inbox_of
from outbox.federate import FEDERATED, send, status_audience
from outbox.note_documents import note_document


async def votes_cast(
    session: AsyncSession, fed: Federation | None, voter: Account, poll: Poll
) -> None:
    """After `voter` voted in `poll` (in this transaction): tell whoever needs to know."""
    status = await session.get(Status, poll.status_id)
    if fed is None or status is None:
        return
    if status.local:
        await counts_changed(session, fed, status)
        return
    author = await session.get(Account, status.account_id)
    if author is None or not voter.is_local or status.uri is None:
        return
    votes = (
        await session.scalars(
            select(PollVote)
            .where(PollVote.poll_id == poll.id, PollVote.account_id == voter.id)
            .order_by(PollVote.id)
        )
    ).all()
    inbox = inbox_of(author, personal=True)
    for vote in votes:
        activity = render.vote(
            fed.settings, voter, vote.id, poll.options[vote.choice], status.uri, author
        )
        await send(session, fed, voter, activity, [inbox], status_id=status.id)


async def counts_changed(session: AsyncSession, fed: Federation | None, status: Status) -> None:
    """Update(Question) of a local poll to everyone its status went to."""
    author = await session.get(Account, status.account_id)
    if fed is None or author is None or status.visibility not in FEDERATED:
        return
    inboxes = await status_audience(session, status)
    if not inboxes:
        return
    note = await note_document(session, fed.settings, status)
    await send(session, fed, author, render.update(note, utcnow()), inboxes, status_id=status.id)


async def closed(session: AsyncSession, fed: Federation | None, polls: list[Poll]) -> None:
    """The final counts of local polls that just ended, marked closed."""
    for poll in polls:
        status = await session.get(Status, poll.status_id)
        if status is not None and status.local:
            await counts_changed(session, fed, status)
