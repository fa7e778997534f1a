"""Applying a viewer's content filters to statuses as the client API presents them.

Works on the serialised JSON (status and notification dicts), after the endpoint built its
page, so it stays apart from how pages are queried and rendered. A status matches a filter in
force in the page's context when one of its keywords occurs in the status's text — content
without markup, content warning, poll options and media descriptions, of the boosted status
for a boost — or when the filter names the status (or, for a boost, the boosted one). Matches
are listed in the status's `filtered` as Mastodon's FilterResult; statuses matched by a `hide`
filter are left out of the list (a notification about one, too).

A viewer without filters costs one indexed query per request and nothing else.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from models.filters import ActiveFilter, active_filters
from web.api.base import Call, ok
from web.api.filters import present

Item = dict[str, Any]

_BREAK = re.compile(r"<br\s*/?>|</p>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")
_WORD_START = re.compile(r"^\w")
_WORD_END = re.compile(r"\w$")


def plain_text(content: str) -> str:
    """HTML content as the words a reader sees: line breaks kept, markup dropped."""
    return html.unescape(_TAG.sub("", _BREAK.sub("\n", content)))


@functools.lru_cache(maxsize=4096)
def keyword_pattern(keyword: str, whole_word: bool) -> re.Pattern[str]:
    """Case-insensitive; a whole word is bounded where the keyword starts or ends with a word
    character (so `#tag` or `c++` still match as whole words)."""
    escaped = re.escape(keyword)
    if whole_word:
        start = r"\b" if _WORD_START.search(keyword) else ""
        end = r"\b" if _WORD_END.search(keyword) else ""
        escaped = f"{start}{escaped}{end}"
    return re.compile(escaped, re.IGNORECASE)


def searchable_text(status: Item) -> str:
    parts = [status.get("spoiler_text") or "", plain_text(status.get("content") or "")]
    poll = status.get("poll") or {}
    parts += [option.get("title") or "" for option in poll.get("options") or []]
    parts += [media.get("description") or "" for media in status.get("media_attachments") or []]
    return "\n\n".join(part for part in parts if part)


@dataclass(frozen=True)
class Rule:
    """One filter in force, ready to match: its presentation, action and patterns."""

    presented: Item
    hides: bool
    keywords: tuple[tuple[str, re.Pattern[str]], ...]
    status_ids: frozenset[str]

    @classmethod
    def of(cls, active: ActiveFilter) -> Rule:
        return cls(
            present(active.filter),
            active.filter.action == "hide",
            tuple((k.keyword, keyword_pattern(k.keyword, k.whole_word)) for k in active.keywords),
            frozenset(str(i) for i in active.status_ids),
        )


class ViewerFilters:
    """The viewer's filters in force in one context."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = rules

    def results(self, item: Item) -> tuple[list[Item], bool]:
        """FilterResults for a status (a boost is judged by what it boosts), and whether a
        `hide` filter matched."""
        proper = item.get("reblog") or item
        ids = {str(item.get("id")), str(proper.get("id"))}
        text: str | None = None
        found: list[Item] = []
        hide = False
        for rule in self.rules:
            matched_words: list[str] = []
            if rule.keywords:
                text = searchable_text(proper) if text is None else text
                matched_words = [word for word, pattern in rule.keywords if pattern.search(text)]
            matched_ids = sorted(ids & rule.status_ids)
            if matched_words or matched_ids:
                found.append(
                    {
                        "filter": rule.presented,
                        "keyword_matches": matched_words or None,
                        "status_matches": matched_ids or None,
                    }
                )
                hide = hide or rule.hides
        return found, hide

    def mark(self, item: Item) -> bool:
        """Set the status's `filtered` (and its boosted status's); True when it is to be
        hidden."""
        found, hide = self.results(item)
        if found:
            item["filtered"] = found
            if isinstance(item.get("reblog"), dict):
                item["reblog"]["filtered"] = found
        return hide

    def statuses(self, items: list[Item]) -> list[Item]:
        return [item for item in items if not self.mark(item)]

    def notifications(self, items: list[Item]) -> list[Item]:
        return [
            n for n in items if not (isinstance(n.get("status"), dict) and self.mark(n["status"]))
        ]


async def load(session: AsyncSession, viewer_id: int | None, context: str) -> ViewerFilters | None:
    """The viewer's filters in force in `context`; None when there are none (or no viewer)."""
    if viewer_id is None:
        return None
    found = await active_filters(session, viewer_id, datetime.now(UTC))
    rules = [Rule.of(f) for f in found if context in f.filter.context]
    return ViewerFilters(rules) if rules else None


async def for_call(c: Call, context: str) -> ViewerFilters | None:
    if c.viewer_id is None or (c.caller is not None and not c.caller.has_filters):
        return None  # the token look-up found no filters: no session, no query
    async with c.node.db.read() as session:
        return await load(session, c.viewer_id, context)


async def statuses(c: Call, context: str, items: list[Item]) -> list[Item]:
    """A list of statuses with the viewer's filters for `context` applied."""
    filters = await for_call(c, context) if items else None
    return filters.statuses(items) if filters else items


async def notifications(c: Call, items: list[Item]) -> list[Item]:
    filters = await for_call(c, "notifications") if items else None
    return filters.notifications(items) if filters else items


async def thread(c: Call, ancestors: list[Item], descendants: list[Item]) -> Item:
    """A status context (`ancestors`, `descendants`) with the `thread` filters applied."""
    filters = await for_call(c, "thread") if ancestors or descendants else None
    if filters:
        ancestors, descendants = filters.statuses(ancestors), filters.statuses(descendants)
    return {"ancestors": ancestors, "descendants": descendants}


async def page(c: Call, context: str, response: Response) -> Response:
    """A page of statuses already answered as JSON, with the filters applied; its headers
    (the Link to the next page) stay, since paging follows the rows read, not those shown."""
    if response.status_code != 200:
        return response
    filters = await for_call(c, context)
    if filters is None:
        return response
    items = orjson.loads(bytes(response.body))
    headers = {
        key: value
        for key, value in response.headers.items()
        if key not in ("content-length", "content-type")
    }
    return ok(filters.statuses(items), headers=headers)


def stream_context(channel: str) -> str | None:
    """Which filters apply to a stream channel's statuses (outbox.stream_channels names them)."""
    if channel.startswith(("home:", "list:")):
        return "home"
    if channel.startswith(("public", "hashtag:")):
        return "public"
    if channel.startswith("notifications:"):
        return "notifications"
    return None  # direct messages: no filter context names them


async def streamed(
    session: AsyncSession, viewer_id: int | None, channel: str, event: str, payload: Item
) -> Item | None:
    """A streamed status or notification with the listener's filters applied; None when a
    `hide` filter keeps it from the listener."""
    context = stream_context(channel)
    if (
        viewer_id is None
        or context is None
        or event not in ("update", "status.update", "notification")
    ):
        return payload
    filters = await load(session, viewer_id, context)
    if filters is None:
        return payload
    if event == "notification":
        return payload if filters.notifications([payload]) else None
    return None if filters.mark(payload) else payload
