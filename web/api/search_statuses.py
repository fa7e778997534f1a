"""The statuses part of search: a URL names one status; otherwise words and operators
(web/api/search_query.py) are looked up in the full-text index (models/search_index.py).

A viewer finds only what they may see (the visibility rule of models/visibility.py, so
followers-only posts only as a follower, direct ones only when addressed, local-only ones only
on this node), nothing by accounts they block, are blocked by, mute or whose node they
blocked, and nothing from a host the allowlist no longer admits. Results are newest first and
page by id (`max_id`, `min_id`, `since_id`) or by `offset`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, and_, exists, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.ids import id_for_time
from models.search_index import (
    FEW_MATCHES,
    planned_status_matches,
    planner_settings,
    status_matches,
)
from models.settings import Settings
from models.tables import Account, MediaAttachment, Status
from models.visibility import visible_to
from web.api.base import Page
from web.api.hosts import status_admitted
from web.api.search_query import StatusQuery, parse
from web.api.timelines import shown_to

STATUS_PATHS = (re.compile(r"^/@[^/]+/(\d+)$"), re.compile(r"^/users/[^/]+/statuses/(\d+)$"))


@dataclass(frozen=True)
class StatusSearch:
    text: str
    viewer_id: int
    settings: Settings
    page: Page
    account_id: int | None = None
    hidden: frozenset[str] = frozenset()
    # Up to this many estimated matches the page is picked from all of them, above it the
    # newest statuses are walked (models/search_index.py); tests lower it to take the walk.
    few_matches: int = FEW_MATCHES


def _own_status_id(search: StatusSearch) -> int | None:
    """The id in a status URL of this node (`/@name/ID` or `/users/name/statuses/ID`)."""
    base = search.settings.public_url.rstrip("/")
    if not search.text.startswith(base + "/"):
        return None
    path = search.text[len(base) :].split("?")[0].split("#")[0]
    for pattern in STATUS_PATHS:
        found = pattern.match(path)
        if found and len(found.group(1)) <= 19:
            return int(found.group(1))
    return None


def _by_url(search: StatusSearch) -> ColumnElement[bool]:
    own = _own_status_id(search)
    by_address = or_(Status.uri == search.text, Status.url == search.text)
    return or_(by_address, Status.id == own) if own is not None else by_address


def _day_starts(day: date) -> int:
    return id_for_time(int(datetime.combine(day, time(), UTC).timestamp() * 1000))


def _author_condition(search: StatusSearch, name: str) -> ColumnElement[bool]:
    """`me`, `name` (this node), `name@host` (this node's own host means this node)."""
    if name.lower() == "me":
        return Status.account_id == search.viewer_id
    username, _, host = name.lower().partition("@")
    local = not host or host == search.settings.domain.lower()
    domain = Account.domain.is_(None) if local else func.lower(Account.domain) == host
    return Status.account_id.in_(
        select(Account.id).where(func.lower(Account.username) == username, domain)
    )


def _operator_conditions(search: StatusSearch, query: StatusQuery) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    conditions += [_author_condition(search, name) for name in query.authors]
    if query.media is not None:
        media = exists(select(MediaAttachment.id).where(MediaAttachment.status_id == Status.id))
        conditions.append(media if query.media else ~media)
    if query.reply is not None:
        reply = or_(Status.in_reply_to_id.is_not(None), Status.in_reply_to_account_id.is_not(None))
        conditions.append(reply if query.reply else ~reply)
    # Ids are time-ordered (remote posts keep their publication time), so days are id ranges.
    if query.before is not None:
        conditions.append(Status.id < _day_starts(query.before))
    if query.after is not None:
        conditions.append(Status.id >= _day_starts(query.after + timedelta(days=1)))
    return conditions


def _text_conditions(
    search: StatusSearch, type_asked: bool, min_words: int
) -> tuple[list[ColumnElement[bool]], StatusQuery | None] | None:
    """What the query asks of a status besides its words, and the words (None: no words);
    None when it asks nothing of statuses."""
    if search.text.startswith(("https://", "http://")):
        return [_by_url(search)], None
    query = parse(search.text)
    if not type_asked and len(search.text) < min_words and not query.has_operators:
        return None
    conditions = _operator_conditions(search, query)
    if not query.has_words and not query.has_operators:
        conditions.append(false())  # only excluded words or punctuation: nothing to find
    return conditions, query if query.has_words else None


async def find_statuses(
    session: AsyncSession, search: StatusSearch, *, type_asked: bool, min_words: int
) -> list[Status]:
    """Raises QueryError (the caller answers 422) for an operator with a bad value."""
    asked = _text_conditions(search, type_asked, min_words)
    if asked is None:
        return []
    conditions, words = asked
    settings: dict[str, str] = {}
    if words is not None:
        language = search.settings.default_language
        if session.get_bind().dialect.name == "postgresql":
            planned = await planned_status_matches(
                session, words.terms, words.excluded, language, few_matches=search.few_matches
            )
            conditions.append(planned.condition)
            settings = planned.settings
        else:
            conditions.append(status_matches("sqlite", words.terms, words.excluded, language))
    statement = select(Status).where(
        and_(*conditions),
        Status.reblog_of_id.is_(None),
        visible_to(search.viewer_id),
        shown_to(search.viewer_id),
        status_admitted(search.hidden),
    )
    if search.account_id is not None:
        statement = statement.where(Status.account_id == search.account_id)
    statement = search.page.apply(statement, Status.id)
    if not settings:
        return search.page.settle((await session.execute(statement)).scalars().all())
    async with planner_settings(session, settings):
        rows = (await session.execute(statement)).scalars().all()
    return search.page.settle(rows)
