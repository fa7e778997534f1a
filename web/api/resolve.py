"""Finding what lives on other nodes for the client API: accounts by handle (WebFinger) or by
actor URL, posts by URL, and the remote accounts a post mentions.

Only hosts on the allowlist are asked (the federation client refuses the others anyway; asking
first also keeps accounts of a host since removed from being found again). Nothing here runs
inside a write transaction of the caller: fetching takes network round trips, and on SQLite a
second writer would wait for the first.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from federation import values
from federation.client import NotAllowed
from federation.values import InvalidValue
from inbox.dereference import FetchError, actor, resolve_handle, webfinger_url
from inbox.notes import fetch_note, store_note
from inbox.parse import Unusable, authority
from models.account import Account
from models.status import Status
from outbox.content import Handle, mentioned_handles
from outbox.context import Federation
from outbox.status_parts import MentionResolver
from web.node import Node

log = logging.getLogger("flurfunk.resolve")
MAX_MENTIONS = 20  # remote handles resolved for one post; more stay plain text


def _split_handle(text: str) -> tuple[str, str] | None:
    try:
        return values.handle(text)
    except InvalidValue:
        return None


def is_remote_handle(node: Node, text: str) -> bool:
    parts = _split_handle(text)
    return parts is not None and parts[1] != node.settings.domain.lower()


def _handle_allowed(fed: Federation, host: str) -> bool:
    return fed.allowlist().allows_url(webfinger_url(fed, host, "acct:x@" + host))


async def account_by_handle(node: Node, text: str) -> Account | None:
    """`name@host` (or `@name@host`) of another node, known or looked up via WebFinger."""
    fed = node.federation
    parts = _split_handle(text)
    if fed is None or parts is None or parts[1] == node.settings.domain.lower():
        return None
    name, host = parts
    if not _handle_allowed(fed, host):
        return None
    return await resolve_handle(fed, f"{name}@{host}")


async def account_by_url(node: Node, url: str) -> Account | None:
    """The remote actor at `url`, fetched (or refreshed) when its host is allowed."""
    fed = node.federation
    if fed is None or not fed.allowlist().allows_url(url) or _is_ours(node, url):
        return None
    try:
        return await actor(fed, url)
    except (FetchError, NotAllowed, Unusable) as exc:
        log.info("resolving %s as an actor failed: %s", url, exc)
        return None


async def status_by_url(node: Node, url: str) -> Status | None:
    """The remote post at `url`, fetched and stored when its host is allowed."""
    fed = node.federation
    if fed is None or not fed.allowlist().allows_url(url) or _is_ours(node, url):
        return None
    try:
        document = await fetch_note(fed, url)
        async with node.db.write() as session:
            return await store_note(fed, session, document, solicited=True)
    except (FetchError, NotAllowed, Unusable) as exc:
        log.info("resolving %s as a post failed: %s", url, exc)
        return None


def _is_ours(node: Node, url: str) -> bool:
    try:
        return authority(url) == node.settings.domain.lower()
    except Unusable:
        return True  # not a URL anyone could fetch


async def mention_resolver(node: Node, texts: Iterable[str]) -> MentionResolver | None:
    """Resolve the remote handles that `texts` mention (before the write transaction) and
    answer a resolver that only looks the results up; unknown or disallowed ones stay text."""
    if node.federation is None:
        return None
    handles = [
        h
        for text in texts
        for h in mentioned_handles(text, node.settings.domain)
        if h.domain is not None
    ]
    found: dict[Handle, int] = {}
    for handle in list(dict.fromkeys(handles))[:MAX_MENTIONS]:
        account = await account_by_handle(node, f"{handle.username}@{handle.domain}")
        if account is not None and account.suspended_at is None:
            found[handle] = account.id
    if not found:
        return None

    async def resolver(session: AsyncSession, handle: Handle) -> Account | None:
        account_id = found.get(handle)
        return None if account_id is None else await session.get(Account, account_id)

    return resolver
