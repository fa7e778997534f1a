"""What an activity names, found among our rows: local accounts, stored statuses, and the
follows that local accounts sent (by the id we gave them, or by who and whom)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from inbox.parse import uri_of
from models.account import Account
from models.relationship import Follow, FollowRequest
from models.settings import Settings
from models.status import Status, Tag
from outbox import feeds
from outbox.status_parts import bell_subscribers
from outbox.stream_channels import lists_including

SentFollow = Follow | FollowRequest
FOLLOW_MODELS: tuple[type[Follow] | type[FollowRequest], ...] = (FollowRequest, Follow)
_OUR_FOLLOW = re.compile(r"/users/[^/#]+#follows/(\d{1,20})$")


async def status_by_uri(session: AsyncSession, uri: str | None) -> Status | None:
    if uri is None:
        return None
    return (await session.execute(select(Status).where(Status.uri == uri))).scalar_one_or_none()


# session.info: what was looked up in this transaction (accounts by URI, whether an account
# is followed here), kept while the inbox processor says that nothing processed since can
# have changed it (inbox.processor).
_LOOKED_UP = "flurfunk.inbox.looked_up"


@dataclass
class _LookedUp:
    accounts: dict[str, Account] = field(default_factory=dict)
    followed: dict[int, bool] = field(default_factory=dict)
    lists: dict[int, list[int]] = field(default_factory=dict)
    subscribers: dict[int, list[Account]] = field(default_factory=dict)
    tags: dict[str, Tag] = field(default_factory=dict)  # by name
    followers: dict[int, list[int]] = field(default_factory=dict)  # local ones, by account
    shunning: dict[int, set[int]] = field(default_factory=dict)  # who blocks or mutes whom


def look_up_in_batch(session: AsyncSession) -> None:
    """Remember look-ups in this session until `forget_looked_up`: a batch of Creates by one
    sender asks for the same author, and whether anyone here follows it, again and again."""
    session.info[_LOOKED_UP] = _LookedUp()


def forget_looked_up(session: AsyncSession) -> None:
    if _LOOKED_UP in session.info:
        session.info[_LOOKED_UP] = _LookedUp()


async def account_by_uri(session: AsyncSession, uri: str | None) -> Account | None:
    if uri is None:
        return None
    remembered: _LookedUp | None = session.info.get(_LOOKED_UP)
    if remembered is not None and uri in remembered.accounts:
        return remembered.accounts[uri]
    account = (
        await session.execute(select(Account).where(Account.uri == uri))
    ).scalar_one_or_none()
    if remembered is not None and account is not None:
        remembered.accounts[uri] = account
    return account


async def local_account(session: AsyncSession, uri: str | None) -> Account | None:
    """The local, not suspended account with this actor URI."""
    account = await account_by_uri(session, uri)
    if account is None or not account.is_local or account.suspended_at is not None:
        return None
    return account


async def followed_here(session: AsyncSession, account_id: int) -> bool:
    """Whether any local account follows `account_id`."""
    remembered: _LookedUp | None = session.info.get(_LOOKED_UP)
    if remembered is not None and account_id in remembered.followed:
        return remembered.followed[account_id]
    local = select(Account.id).where(Account.domain.is_(None))
    followed = bool(
        await session.scalar(
            select(
                exists().where(Follow.target_account_id == account_id, Follow.account_id.in_(local))
            )
        )
    )
    if remembered is not None:
        remembered.followed[account_id] = followed
    return followed


async def author_lists(session: AsyncSession, account_id: int) -> list[int]:
    """The lists that include `account_id` (their streams hear its posts)."""
    remembered: _LookedUp | None = session.info.get(_LOOKED_UP)
    if remembered is not None and account_id in remembered.lists:
        return remembered.lists[account_id]
    lists = await lists_including(session, account_id)
    if remembered is not None:
        remembered.lists[account_id] = lists
    return lists


async def subscribers_of(session: AsyncSession, account_id: int) -> list[Account]:
    """Local accounts that asked to hear of every new post of `account_id`."""
    remembered: _LookedUp | None = session.info.get(_LOOKED_UP)
    if remembered is not None and account_id in remembered.subscribers:
        return remembered.subscribers[account_id]
    subscribers = await bell_subscribers(session, account_id)
    if remembered is not None:
        remembered.subscribers[account_id] = subscribers
    return subscribers


async def followers_here(session: AsyncSession, account_id: int) -> list[int]:
    """The local accounts that follow `account_id`."""
    remembered: _LookedUp | None = session.info.get(_LOOKED_UP)
    if remembered is not None and account_id in remembered.followers:
        return remembered.followers[account_id]
    followers = await feeds.local_followers(session, account_id)
    if remembered is not None:
        remembered.followers[account_id] = followers
        remembered.followed[account_id] = bool(followers)
    return followers


async def shunning(session: AsyncSession, account_id: int) -> set[int]:
    """The accounts that block or mute `account_id`."""
    remembered: _LookedUp | None = session.info.get(_LOOKED_UP)
    if remembered is not None and account_id in remembered.shunning:
        return remembered.shunning[account_id]
    found = await feeds.shunning(session, account_id)
    if remembered is not None:
        remembered.shunning[account_id] = found
    return found


def known_tags(session: AsyncSession) -> dict[str, Tag] | None:
    """Tags by name read in this batch (store_tags adds to it), or None outside a batch."""
    remembered: _LookedUp | None = session.info.get(_LOOKED_UP)
    return remembered.tags if remembered is not None else None


def _our_row_id(settings: Settings, uri: str | None) -> int | None:
    """The row id in a Follow id we minted (`…/users/<name>#follows/<id>`)."""
    if uri is None or not uri.startswith(settings.url("/users/")):
        return None
    match = _OUR_FOLLOW.search(uri)
    return int(match.group(1)) if match else None


async def follow_sent_to(
    session: AsyncSession, settings: Settings, target: Account, named: Any
) -> SentFollow | None:
    """The follow (pending or accepted) from a local account to `target` that `named` — a
    Follow id or an embedded Follow — stands for."""
    follow_uri = uri_of(named)
    row_id = _our_row_id(settings, follow_uri)
    for model in FOLLOW_MODELS:
        matches = [model.uri == follow_uri] if follow_uri else []
        if row_id is not None:
            matches.append(model.id == row_id)
        for match in matches:
            row = await _sent(session, model, target, match)
            if row is not None:
                return row
    if isinstance(named, dict) and uri_of(named.get("object")) == target.uri:
        follower = await local_account(session, uri_of(named.get("actor")))
        if follower is not None:
            for model in FOLLOW_MODELS:
                pair = (model.account_id == follower.id) & (model.target_account_id == target.id)
                row = await _sent(session, model, target, pair)
                if row is not None:
                    return row
    return None


async def _sent(
    session: AsyncSession, model: type[SentFollow], target: Account, match: Any
) -> SentFollow | None:
    local = select(Account.id).where(Account.domain.is_(None))
    rows = await session.execute(
        select(model)
        .where(match, model.target_account_id == target.id, model.account_id.in_(local))
        .limit(1)
    )
    found = rows.scalars().first()
    return found if isinstance(found, Follow | FollowRequest) else None
