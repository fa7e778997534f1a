"""Undo of a Follow, Like, Announce or Block by the same actor.

The undone activity is named by its id or embedded. An embedded activity by anyone else is
refused; an id is only looked for among the sender's own rows, so nobody can undo what
another actor did.
"""

from __future__ import annotations

import contextlib
from typing import Any

from sqlalchemy import select

from inbox import groups
from inbox.dispatch import Incoming, handles
from inbox.parse import Unusable, uri_of
from inbox.targets import local_account, status_by_uri
from models.account import Account
from models.interaction import Favourite
from models.relationship import Block, Follow, FollowRequest
from models.status import Status
from outbox import interactions, relationships
from outbox.status_parts import StatusProblem

UNDOABLE = ("Follow", "Like", "Announce", "Block")


@handles("Undo")
async def undo(incoming: Incoming) -> None:
    inner = incoming.object
    inner_uri = uri_of(inner)
    if inner_uri is None:
        raise Unusable("the Undo names no activity")
    kind: Any = None
    if isinstance(inner, dict):
        if uri_of(inner.get("actor")) not in (None, incoming.actor.uri):
            raise Unusable("an Undo must name an activity by the same actor")
        kind = inner.get("type")
    for undoable in UNDOABLE:
        if kind in (None, undoable) and await UNDO[undoable](incoming, inner_uri, inner):
            return


async def _target_account(incoming: Incoming, model: Any, uri: str, inner: Any) -> Account | None:
    """The local account a Follow or Block by the sender was aimed at."""
    session = incoming.session
    target_id = await session.scalar(
        select(model.target_account_id).where(
            model.uri == uri, model.account_id == incoming.actor.id
        )
    )
    if target_id is not None:
        return await session.get(Account, target_id)
    if isinstance(inner, dict):
        return await local_account(session, uri_of(inner.get("object")))
    return None


async def _unfollow(incoming: Incoming, uri: str, inner: Any) -> bool:
    target = await _target_account(incoming, Follow, uri, inner) or await _target_account(
        incoming, FollowRequest, uri, inner
    )
    if target is None:
        return False
    await relationships.unfollow(incoming.session, incoming.actor, target)
    return True


async def _unblock(incoming: Incoming, uri: str, inner: Any) -> bool:
    target = await _target_account(incoming, Block, uri, inner)
    if target is None:
        return False
    await relationships.unblock(incoming.session, incoming.actor, target)
    return True


async def _unlike(incoming: Incoming, uri: str, inner: Any) -> bool:
    session = incoming.session
    status_id = await session.scalar(
        select(Favourite.status_id).where(
            Favourite.uri == uri, Favourite.account_id == incoming.actor.id
        )
    )
    if status_id is None and isinstance(inner, dict):
        status = await status_by_uri(session, uri_of(inner.get("object")))
        status_id = status.id if status else None
    if status_id is None:
        return False
    liked = await session.scalar(
        select(Favourite.id).where(
            Favourite.account_id == incoming.actor.id, Favourite.status_id == status_id
        )
    )
    if liked is not None:  # a Like in a group of ours: its Undo goes on to the members
        await groups.relay_change(incoming, await session.get(Status, status_id))
    # A status gone or hidden from them since has nothing left to undo.
    with contextlib.suppress(StatusProblem):
        await interactions.unfavourite(session, incoming.actor, status_id)
    return True


async def _unannounce(incoming: Incoming, uri: str, inner: Any) -> bool:
    session = incoming.session
    original_id = await session.scalar(
        select(Status.reblog_of_id).where(
            Status.uri == uri,
            Status.account_id == incoming.actor.id,
            Status.reblog_of_id.is_not(None),
        )
    )
    if original_id is None:
        return False
    with contextlib.suppress(StatusProblem):
        await interactions.unreblog(session, incoming.actor, original_id)
    return True


UNDO = {"Follow": _unfollow, "Like": _unlike, "Announce": _unannounce, "Block": _unblock}
