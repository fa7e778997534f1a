"""Who may see which status: one rule, as a SQL condition and as a check on one row.

public / unlisted: everyone. local: every account of this node, and nobody elsewhere, not
even an account it mentions (it never federates). A post held back by a compliance watch term
(`held`) is its author's alone until released. private: the author, their followers and the
mentioned. direct: the author and the mentioned. group: the author and the members of the
group it is addressed to (`audience_id`: those who follow the group account here, and the
group itself), never the merely mentioned. Nobody sees the statuses of an account that blocks them.

Viewers are accounts, local or remote (the inbox asks whether a remote actor may favourite,
boost, vote on or reply to a status), so whether a viewer is local is read from their account
row, never assumed from their having an id.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from models.account import Account
from models.relationship import Block, Follow
from models.status import GROUP_ONLY, Mention, Status

OPEN = ("public", "unlisted")


def visible_to(viewer_id: int | None, status: type[Status] = Status) -> ColumnElement[bool]:
    """A WHERE condition admitting the statuses `viewer_id` (None: anonymous) may see."""
    if viewer_id is None:
        return and_(status.visibility.in_(OPEN), status.held.is_(False))
    follows_author = exists(
        select(Follow.id).where(
            Follow.account_id == viewer_id, Follow.target_account_id == status.account_id
        )
    )
    mentioned = exists(
        select(Mention.status_id).where(
            Mention.status_id == status.id, Mention.account_id == viewer_id
        )
    )
    blocked = exists(
        select(Block.id).where(
            Block.account_id == status.account_id, Block.target_account_id == viewer_id
        )
    )
    member = exists(
        select(Follow.id).where(
            Follow.account_id == viewer_id, Follow.target_account_id == status.audience_id
        )
    )
    viewer_is_local = exists(
        select(Account.id).where(Account.id == viewer_id, Account.domain.is_(None))
    )
    return and_(
        or_(
            status.visibility.in_((*OPEN, "local")),
            status.account_id == viewer_id,
            and_(status.visibility == "private", follows_author),
            and_(status.visibility != GROUP_ONLY, mentioned),
            and_(
                status.visibility == GROUP_ONLY,
                or_(status.audience_id == viewer_id, member),
            ),
        ),
        or_(status.visibility != "local", viewer_is_local),
        # Held back by a compliance watch term: its author's alone until released.
        or_(status.held.is_(False), status.account_id == viewer_id),
        ~blocked,
    )


def not_held(viewer_id: int | None, status: type[Status] = Status) -> ColumnElement[bool]:
    """For queries that read by visibility directly (public timelines, streams, trends,
    direct messages): a post held by a compliance watch term shows to its author alone."""
    if viewer_id is None:
        return status.held.is_(False)
    return or_(status.held.is_(False), status.account_id == viewer_id)


async def can_see(session: AsyncSession, viewer_id: int | None, status: Status) -> bool:
    if viewer_id is not None and status.account_id == viewer_id:
        return True
    if viewer_id is None:
        return status.visibility in OPEN and not status.held
    query = select(Status.id).where(Status.id == status.id, visible_to(viewer_id))
    return (await session.execute(query)).first() is not None


def not_blocked_either_way(
    viewer_id: int | None, author_column: ColumnElement[int]
) -> ColumnElement[bool]:
    """Hide statuses of accounts the viewer blocks or is blocked by (timelines)."""
    if viewer_id is None:
        return true()
    return ~exists(
        select(Block.id).where(
            or_(
                and_(Block.account_id == viewer_id, Block.target_account_id == author_column),
                and_(Block.account_id == author_column, Block.target_account_id == viewer_id),
            )
        )
    )
