"""Deleting a batch of expired posts at once: what `outbox.statuses.delete_status` does for
one post, done with a few set-based statements for a few hundred.

Per post the normal deletion federates a Delete (Undo for a boost, the group's Delete for a
group post), announces a stream `delete` to every channel that showed the post, deletes its
boosts (with their counters and stream events), the notifications about it and the post,
and takes back the counters it added (its author's statuses, its parent's replies, its
original's boosts and that boost's notification). Here the same happens for the whole
batch: the Deletes are still one activity per post, queued in the caller's transaction, so
they commit with the deletion; everything else is one statement per table. What the
database removes with the rows (ON DELETE CASCADE: mentions, tags, edits, favourites,
bookmarks, pins, polls and votes, link previews, feed entries, the search index, filter
and compliance marks) is left to it; replies keep their text and lose their parent
(ON DELETE SET NULL), as with the normal deletion. Attachments go with the post, rows and
files (the caller removes the files once the transaction has committed).

Legal holds are the caller's to respect: the batch must hold no post a hold covers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from sqlalchemy import ColumnElement, case, delete, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from models.account import Account
from models.notification import Notification
from models.status import MediaAttachment, Status
from outbox import bulk_deletes, events, federate, group_posts
from outbox.context import Federation
from outbox.status_parts import COUNTED


async def delete_posts(
    session: AsyncSession, fed: Federation | None, found: list[Status]
) -> list[str]:
    """Delete `found` (and every boost of them) in the caller's transaction; returns the
    files of their attachments, to remove after the commit."""
    if not found:
        return []
    ids = {s.id for s in found}
    boosts = list(
        await session.scalars(
            select(Status).where(Status.reblog_of_id.in_(ids), Status.id.not_in(ids))
        )
    )
    gone = found + boosts
    gone_ids = ids | {b.id for b in boosts}
    authors = {
        a.id: a
        for a in await session.scalars(
            select(Account).where(Account.id.in_({s.account_id for s in gone}))
        )
    }
    # Federation first: the audience is read from mentions, boosts and follows while they exist.
    await _federate(session, fed, authors, found)
    await events.removing_many(session, gone)
    await _discount(session, gone, gone_ids)
    await session.execute(delete(Notification).where(Notification.status_id.in_(gone_ids)))
    files = await session.execute(
        delete(MediaAttachment)
        .where(MediaAttachment.status_id.in_(ids))
        .returning(MediaAttachment.file_path, MediaAttachment.account_id)
    )
    # Only a local author's files are ours; a remote post's media is a shared cache.
    paths = [p for p, owner in files.all() if p and owner in authors and authors[owner].is_local]
    await session.execute(
        delete(Status).where(Status.id.in_(gone_ids)).execution_options(synchronize_session=False)
    )
    return paths


async def _federate(
    session: AsyncSession,
    fed: Federation | None,
    authors: dict[int, Account],
    found: list[Status],
) -> None:
    if fed is None:
        return
    plain = []
    for status in found:
        author = authors[status.account_id]
        if status.reblog_of_id is not None:
            if status.visibility in federate.FEDERATED and not status.held:
                await federate.undo_announce(session, fed, author, status)
        elif status.audience_id is not None:
            await group_posts.delete(session, fed, author, status)
        else:
            plain.append(status)
    await bulk_deletes.delete_notes(session, fed, authors, plain)


def _minus(column: InstrumentedAttribute[int], by: int) -> ColumnElement[int]:
    """`column - by`, never below zero (counters of older data may be off already)."""
    return case((column > by, column - by), else_=0)


async def _discount(session: AsyncSession, gone: list[Status], gone_ids: set[int]) -> None:
    """Undo the counters the deleted statuses added when they were posted, for the rows
    that stay: authors' statuses, parents' replies, originals' boosts (and the boost's
    notification to the original's author)."""
    posted = Counter(s.account_id for s in gone if s.visibility != "direct")
    await _decrement(session, Account.id, Account.statuses_count, posted.items())
    replied = Counter(
        s.in_reply_to_id
        for s in gone
        if s.in_reply_to_id is not None
        and s.in_reply_to_id not in gone_ids
        and s.visibility in COUNTED
    )
    await _decrement(session, Status.id, Status.replies_count, replied.items())
    boosted = [s for s in gone if s.reblog_of_id is not None and s.reblog_of_id not in gone_ids]
    originals = Counter(s.reblog_of_id for s in boosted)
    await _decrement(session, Status.id, Status.reblogs_count, originals.items())
    if boosted:
        pairs = {(s.account_id, s.reblog_of_id) for s in boosted}
        await session.execute(
            delete(Notification).where(
                Notification.type == "reblog",
                tuple_(Notification.from_account_id, Notification.status_id).in_(pairs),
            )
        )


async def _decrement(
    session: AsyncSession,
    key: InstrumentedAttribute[int],
    counter: InstrumentedAttribute[int],
    by: Iterable[tuple[int | None, int]],
) -> None:
    """`counter -= by[row]` for every row named: one statement per distinct amount (a few),
    not one per row (hundreds)."""
    amounts: dict[int, list[int]] = {}
    for row_id, amount in by:
        if row_id is not None:
            amounts.setdefault(amount, []).append(row_id)
    for amount, row_ids in amounts.items():
        await session.execute(
            update(key.class_)
            .where(key.in_(row_ids))
            .values({counter: _minus(counter, amount)})
            .execution_options(synchronize_session=False)
        )
