"""Polls: validated when a status is posted, voted on by anyone who may see the status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.account import Account
from models.base import utcnow
from models.notification import Notification
from models.poll import Poll, PollVote
from models.status import Status
from models.visibility import can_see
from outbox.notify import notify

MAX_OPTIONS = 4
MAX_OPTION_CHARS = 50
MIN_EXPIRY = 300
MAX_EXPIRY = 2_629_746  # a month, as Mastodon


class PollProblem(ValueError):
    """Why a poll or a vote is refused; shown to the client as a 422."""


@dataclass(frozen=True)
class PollDraft:
    options: tuple[str, ...]
    expires_in: int
    multiple: bool = False
    hide_totals: bool = False


def poll_draft(
    options: list[str], expires_in: int | None, multiple: bool, hide_totals: bool
) -> PollDraft:
    cleaned = tuple(o.strip() for o in options)
    if not 2 <= len(cleaned) <= MAX_OPTIONS:
        raise PollProblem(f"a poll needs 2 to {MAX_OPTIONS} options")
    if any(not o or len(o) > MAX_OPTION_CHARS for o in cleaned):
        raise PollProblem(f"poll options must have 1 to {MAX_OPTION_CHARS} characters")
    if len(set(cleaned)) != len(cleaned):
        raise PollProblem("poll options must be different")
    if expires_in is None or not MIN_EXPIRY <= expires_in <= MAX_EXPIRY:
        raise PollProblem(f"poll expires_in must be {MIN_EXPIRY} to {MAX_EXPIRY} seconds")
    return PollDraft(cleaned, expires_in, multiple, hide_totals)


async def attach_poll(session: AsyncSession, status: Status, draft: PollDraft) -> Poll:
    poll = Poll(
        status_id=status.id,
        account_id=status.account_id,
        options=list(draft.options),
        tallies=[0] * len(draft.options),
        multiple=draft.multiple,
        hide_totals=draft.hide_totals,
        expires_at=utcnow() + timedelta(seconds=draft.expires_in),
    )
    session.add(poll)
    await session.flush()
    return poll


def expired(poll: Poll) -> bool:
    return poll.expires_at is not None and poll.expires_at <= utcnow()


async def vote(session: AsyncSession, voter: Account, poll_id: int, choices: list[int]) -> Poll:
    """Record `voter`'s choices; the poll row is locked so that tallies stay exact."""
    poll = (
        await session.execute(select(Poll).where(Poll.id == poll_id).with_for_update())
    ).scalar_one_or_none()
    status = await session.get(Status, poll.status_id) if poll else None
    if poll is None or status is None or not await can_see(session, voter.id, status):
        raise LookupError("no such poll")
    if expired(poll):
        raise PollProblem("the poll has already ended")
    if not choices or len(set(choices)) != len(choices):
        raise PollProblem("choose at least one option, each once")
    if not poll.multiple and len(choices) > 1:
        raise PollProblem("this poll allows one choice only")
    if any(not 0 <= c < len(poll.options) for c in choices):
        raise PollProblem("no such option")
    voted = await session.scalar(
        select(PollVote.id)
        .where(PollVote.poll_id == poll.id, PollVote.account_id == voter.id)
        .limit(1)
    )
    if voted is not None:
        raise PollProblem("you have already voted on this poll")
    tallies = list(poll.tallies)
    for choice in choices:
        session.add(PollVote(poll_id=poll.id, account_id=voter.id, choice=choice))
        tallies[choice] += 1
    poll.tallies = tallies
    poll.votes_count += len(choices)
    poll.voters_count += 1
    await session.flush()
    return poll


async def remote_vote(
    session: AsyncSession, voter: Account, poll_id: int, option: str
) -> Poll | None:
    """Count one vote from another node (one per chosen option, so a poll with several
    choices hears a voter several times); the poll, or None when the vote cannot count."""
    poll = (
        await session.execute(select(Poll).where(Poll.id == poll_id).with_for_update())
    ).scalar_one_or_none()
    status = await session.get(Status, poll.status_id) if poll else None
    if poll is None or status is None or expired(poll) or option not in poll.options:
        return None
    if not await can_see(session, voter.id, status):
        return None
    chosen = set(
        (
            await session.scalars(
                select(PollVote.choice).where(
                    PollVote.poll_id == poll.id, PollVote.account_id == voter.id
                )
            )
        ).all()
    )
    choice = poll.options.index(option)
    if choice in chosen or (chosen and not poll.multiple):
        return None
    session.add(PollVote(poll_id=poll.id, account_id=voter.id, choice=choice))
    tallies = list(poll.tallies)
    tallies[choice] += 1
    poll.tallies = tallies
    poll.votes_count += 1
    poll.voters_count += 0 if chosen else 1
    await session.flush()
    return poll


async def own_votes(
    session: AsyncSession, viewer_id: int | None, poll_ids: set[int]
) -> dict[int, list[int]]:
    if viewer_id is None or not poll_ids:
        return {}
    rows = await session.execute(
        select(PollVote.poll_id, PollVote.choice).where(
            PollVote.account_id == viewer_id, PollVote.poll_id.in_(poll_ids)
        )
    )
    votes: dict[int, list[int]] = {}
    for poll_id, choice in rows.all():
        votes.setdefault(poll_id, []).append(choice)
    return votes


async def announce_ended(session: AsyncSession, limit: int = 100) -> list[Poll]:
    """Tell authors and voters of polls that ended (a `poll` notification each); the polls."""
    ended = (
        (
            await session.execute(
                select(Poll)
                .where(Poll.ended_notified.is_(False), Poll.expires_at <= utcnow())
                .order_by(Poll.expires_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        .scalars()
        .all()
    )
    for poll in ended:
        voters = set(
            (
                await session.execute(
                    select(PollVote.account_id).where(PollVote.poll_id == poll.id)
                )
            ).scalars()
        )
        for account_id in sorted(voters | {poll.account_id}):
            recipient = await session.get(Account, account_id)
            if recipient is not None and recipient.is_local:
                await _notify_ended(session, recipient, poll)
        poll.ended_notified = True
    return list(ended)


async def _notify_ended(session: AsyncSession, recipient: Account, poll: Poll) -> None:
    """A `poll` notification from the poll's author (Mastodon shows whose poll ended)."""
    if recipient.id == poll.account_id:
        # notify() skips notifying people of their own acts; an author still wants this one.
        session.add(
            Notification(
                account_id=recipient.id,
                from_account_id=poll.account_id,
                type="poll",
                status_id=poll.status_id,
            )
        )
        return
    await notify(
        session,
        recipient=recipient,
        actor_id=poll.account_id,
        type="poll",
        status_id=poll.status_id,
    )
