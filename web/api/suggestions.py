"""`/api/v2/suggestions` (and v1): colleagues to follow.

Three reasons make an account a suggestion, each named in the v2 entity's `sources`:
`department` (the same value in the profile field "Department"/"Abteilung", on any node),
`friends_of_friends` (followed by people one follows; Mastodon's name) and `colleague`
(an account of one's own node). Ranked by department, then by how many of one's followees
follow them, then by recent activity. Never oneself, anyone one follows or asked to follow,
blocks, mutes or hides by domain, nor an account that is suspended, not discoverable, on a
host no longer allowed, or dismissed with `DELETE /api/v1/suggestions/:account_id` (kept for
good).
"""

from __future__ import annotations

import re
from collections import Counter
from html import unescape
from typing import Any

from sqlalchemy import String, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from models.discovery import SuggestionDismissal
from models.tables import Account, Follow, FollowRequest
from web.api import serializers
from web.api.base import Call, call, ok
from web.api.errors import not_found
from web.api.hosts import account_admitted, hidden_domains
from web.api.params import parse_id
from web.api.timelines import hidden_authors

DEPARTMENT_FIELDS = ("department", "abteilung")
PAGE, MOST = 40, 80
CANDIDATES = 500  # per reason: enough to fill a page after the exclusions
# The v2 entity's deprecated single `source`, for apps that read only that.
LEGACY_SOURCE = {"department": "staff", "friends_of_friends": "past_interactions"}
_TAGS = re.compile(r"<[^>]*>")


def department(fields: list[dict[str, Any]]) -> str:
    """The account's department as plain text, or ""."""
    for f in fields or []:
        if str(f.get("name", "")).strip().lower() in DEPARTMENT_FIELDS:
            value = f.get("source") or _TAGS.sub("", str(f.get("value", "")))
            return " ".join(unescape(str(value)).split()).lower()
    return ""


def _eligible(c: Call, hidden: frozenset[str]) -> Any:
    me = c.account.id
    return (
        Account.id != me,
        Account.suspended_at.is_(None),
        Account.discoverable.is_(True),
        account_admitted(hidden),
        Account.id.not_in(select(Follow.target_account_id).where(Follow.account_id == me)),
        Account.id.not_in(
            select(FollowRequest.target_account_id).where(FollowRequest.account_id == me)
        ),
        Account.id.not_in(hidden_authors(me)),
        Account.id.not_in(
            select(SuggestionDismissal.target_account_id).where(
                SuggestionDismissal.account_id == me
            )
        ),
    )


async def suggest(c: Call, session: AsyncSession, limit: int) -> list[tuple[Account, list[str]]]:
    """The caller's suggestions, best first, each with its reasons."""
    eligible = _eligible(c, await hidden_domains(c.node))
    sources: dict[int, list[str]] = {}
    accounts: dict[int, Account] = {}

    mine = department(c.account.fields)
    if mine:
        # A cheap textual filter in SQL (on the longest plain word: stored JSON may escape
        # other characters), then the exact comparison on the few that pass.
        query = select(Account).where(*eligible)
        words = sorted(re.findall(r"[a-z0-9]{3,}", mine), key=len)
        if words:
            query = query.where(func.lower(cast(Account.fields, String)).like(f"%{words[-1]}%"))
        rows = await session.execute(query.limit(CANDIDATES))
        for a in rows.scalars():
            if department(a.fields) == mine:
                accounts[a.id] = a
                sources.setdefault(a.id, []).append("department")

    followees = select(Follow.target_account_id).where(Follow.account_id == c.account.id)
    followers_among_mine = func.count(Follow.account_id.distinct())
    rows2 = await session.execute(
        select(Account, followers_among_mine)
        .join(Follow, Follow.target_account_id == Account.id)
        .where(Follow.account_id.in_(followees), *eligible)
        .group_by(Account.id)
        .order_by(followers_among_mine.desc())
        .limit(CANDIDATES)
    )
    friends: Counter[int] = Counter()
    for a, count in rows2.all():
        accounts[a.id] = a
        friends[a.id] = count
        sources.setdefault(a.id, []).append("friends_of_friends")

    rows3 = await session.execute(
        select(Account)
        .where(Account.domain.is_(None), *eligible)
        .order_by(Account.last_status_at.desc().nulls_last(), Account.id.desc())
        .limit(CANDIDATES)
    )
    for a in rows3.scalars():
        accounts[a.id] = a
        sources.setdefault(a.id, []).append("colleague")

    def rank(a: Account) -> tuple[int, int, str, int]:
        return (
            "department" in sources[a.id],
            friends[a.id],
            a.last_status_at.isoformat() if a.last_status_at else "",
            a.id,
        )

    ordered = sorted(accounts.values(), key=rank, reverse=True)[:limit]
    return [(a, sources[a.id]) for a in ordered]


async def _answer(request: Request, v2: bool) -> Response:
    c = await call(request, "read:accounts")
    limit = c.params.number("limit", PAGE, minimum=1, maximum=MOST) or PAGE
    async with c.node.db.read() as session:
        found = await suggest(c, session, limit)
    links = c.node.links()
    if not v2:
        return ok([serializers.account(a, links) for a, _ in found])
    return ok(
        [
            {
                "source": LEGACY_SOURCE.get(reasons[0], "global"),
                "sources": reasons,
                "account": serializers.account(a, links),
            }
            for a, reasons in found
        ]
    )


async def suggestions_v1(request: Request) -> Response:
    return await _answer(request, v2=False)


async def suggestions_v2(request: Request) -> Response:
    return await _answer(request, v2=True)


async def dismiss(request: Request) -> Response:
    c = await call(request, "write:accounts")
    target_id = parse_id(request.path_params["id"])
    async with c.node.db.write() as session:
        if await session.get(Account, target_id) is None:
            raise not_found()
        if await session.get(SuggestionDismissal, (c.account.id, target_id)) is None:
            session.add(SuggestionDismissal(account_id=c.account.id, target_account_id=target_id))
    return ok({})


routes: list[BaseRoute] = [
    Route("/api/v1/suggestions", suggestions_v1, methods=["GET"]),
    Route("/api/v2/suggestions", suggestions_v2, methods=["GET"]),
    Route("/api/v1/suggestions/{id}", dismiss, methods=["DELETE"]),
]
