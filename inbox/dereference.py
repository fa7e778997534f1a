"""Fetching remote actors and objects: signed GETs through the allowlisted client.

Remote accounts are cached as rows; an actor is fetched again when asked to (a signature that
fails with the cached key may mean the key rotated) or when the row is a day old.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from federation import values
from federation.client import Fetched, NotAllowed
from federation.jsonld import JsonLdError, normalize
from federation.values import InvalidValue
from inbox import emoji
from inbox.parse import ACTOR_TYPES, Unusable, actor_fields, authority, type_of, uri_of
from models import remote_file
from models.account import Account
from models.base import utcnow
from outbox.context import Federation

log = logging.getLogger("flurfunk.dereference")
ACCEPT = 'application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
STALE = timedelta(days=1)
MAX_DOCUMENT = 1 << 20


class FetchError(Exception):
    """A remote document could not be had: not allowed, unreachable, or unusable."""


async def fetch_json(fed: Federation, url: str, *, accept: str = ACCEPT) -> dict[str, Any]:
    try:
        fetched: Fetched = await fed.client.request(
            "GET",
            url,
            headers={"accept": accept},
            sign=fed.instance.signer(),
            max_body=MAX_DOCUMENT,
        )
    except NotAllowed:
        raise
    except Exception as exc:  # any transport failure means "could not fetch"
        raise FetchError(f"fetching {url} failed: {type(exc).__name__}: {exc}") from None
    if fetched.status != 200:
        raise FetchError(f"fetching {url} answered HTTP {fetched.status}")
    try:
        document = values.json_document(fetched.body)
    except InvalidValue as exc:
        raise FetchError(f"{url} did not answer usable JSON: {exc}") from None
    if not isinstance(document, dict):
        raise FetchError(f"{url} did not answer a JSON object")
    try:
        return normalize(document)
    except JsonLdError as exc:
        raise FetchError(str(exc)) from None


async def store_actor(session: AsyncSession, fields: dict[str, Any]) -> Account:
    """Insert or update the remote account described by `fields` (from parse.actor_fields)."""
    account = await _stored_actor(session, fields)
    if account is None:
        account = Account(**fields, fetched_at=utcnow())
        try:
            async with session.begin_nested():  # a savepoint: the outer transaction survives
                session.add(account)
        except IntegrityError:
            # Another process stored the same actor since we looked (PostgreSQL lets two
            # fetches of a new actor race): update its row instead.
            account = await _stored_actor(session, fields)
            if account is None:
                raise
        else:
            await remote_file.want(
                session, [fields.get("avatar_remote_url"), fields.get("header_remote_url")]
            )
            return account
    for key, value in fields.items():
        setattr(account, key, value)
    account.fetched_at = utcnow()
    await remote_file.want(
        session, [fields.get("avatar_remote_url"), fields.get("header_remote_url")]
    )
    await session.flush()
    return account


async def _stored_actor(session: AsyncSession, fields: dict[str, Any]) -> Account | None:
    by_uri = select(Account).where(Account.uri == fields["uri"])
    account = (await session.execute(by_uri)).scalar_one_or_none()
    if account is None:
        by_handle = select(Account).where(
            Account.username == fields["username"], Account.domain == fields["domain"]
        )
        account = (await session.execute(by_handle)).scalar_one_or_none()
    return account


async def fetch_actor(fed: Federation, uri: str) -> Account:
    """Fetch an actor document and store it."""
    return await _store_fetched(fed, uri, await fetch_json(fed, uri))


async def _store_fetched(fed: Federation, uri: str, document: dict[str, Any]) -> Account:
    """Store a fetched actor; its id must live on the host it was fetched from."""
    try:
        fields = actor_fields(document)
    except Unusable as exc:
        raise FetchError(f"{uri}: {exc}") from None
    if authority(fields["uri"]) != authority(uri):
        raise FetchError(f"{uri} answered an actor from another host")
    if fed.settings.domain == fields["domain"]:
        raise FetchError("refusing to store a remote copy of a local actor")
    async with fed.db.write() as session:
        account = await store_actor(session, fields)
        await emoji.record(session, fed.allowlist(), account.domain, document)
        return account


async def actor(fed: Federation, uri: str, *, refresh: bool = False) -> Account:
    """The account for an actor URI: from the database, fetched when unknown or stale."""
    async with fed.db.read() as session:
        account = (
            await session.execute(select(Account).where(Account.uri == uri))
        ).scalar_one_or_none()
    fresh = (
        account is not None
        and account.fetched_at is not None
        and (utcnow() - account.fetched_at < STALE)
    )
    if account is not None and (account.is_local or (fresh and not refresh)):
        return account
    return await fetch_actor(fed, uri)


async def actor_for_key(fed: Federation, key_id: str, *, refresh: bool = False) -> Account:
    """The actor owning a signature's keyId (Mastodon: `<actor>#main-key`)."""
    owner = key_id.split("#", 1)[0]
    if not refresh:
        async with fed.db.read() as session:
            account = (
                await session.execute(select(Account).where(Account.uri == owner))
            ).scalar_one_or_none()
        if account is not None and account.public_key_pem:
            return account
    document = await fetch_json(fed, owner)
    if type_of(document) in ACTOR_TYPES:
        return await _store_fetched(fed, owner, document)
    owner_uri = uri_of(document.get("owner"))  # a separate key document
    if owner_uri is None or authority(owner_uri) != authority(key_id):
        raise FetchError("the key names no owner on its own host")
    return await fetch_actor(fed, owner_uri)


def webfinger_url(fed: Federation, host: str, resource: str) -> str:
    scheme = "http" if fed.settings.public_url.startswith("http://") else "https"
    return f"{scheme}://{host}/.well-known/webfinger?resource={quote(resource, safe=':@')}"


async def resolve_handle(fed: Federation, handle: str) -> Account | None:
    """`user@host` (or `@user@host`) -> the remote account, via WebFinger; None if unknown."""
    name, _, host = handle.lstrip("@").partition("@")
    if not name or not host:
        return None
    host = host.lower()
    async with fed.db.read() as session:
        known = (
            await session.execute(
                select(Account).where(Account.username == name, Account.domain == host)
            )
        ).scalar_one_or_none()
    if known is not None and known.fetched_at and utcnow() - known.fetched_at < STALE:
        return known
    url = webfinger_url(fed, host, f"acct:{name}@{host}")
    try:
        document = await fetch_json(fed, url, accept="application/jrd+json, application/json")
    except (FetchError, NotAllowed):
        return known
    links = document.get("links")
    if isinstance(links, dict):
        links = [links]  # JSON-LD compaction turns a list of one link into the link
    if not isinstance(links, list):
        links = []
    self_link = next(
        (
            uri_of(link.get("href"))
            for link in links
            if isinstance(link, dict)
            and link.get("rel") == "self"
            and "json" in str(link.get("type", ""))
        ),
        None,
    )
    if self_link is None or not fed.allowlist().allows_url(self_link):
        return known
    try:
        return await actor(fed, self_link, refresh=True)
    except (FetchError, NotAllowed) as exc:
        log.info("resolving %s failed: %s", handle, exc)
        return known


def same_origin(a: str, b: str) -> bool:
    try:
        return authority(a) == authority(b)
    except Unusable:
        return False
