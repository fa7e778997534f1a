"""Receiving an activity: verify, check the allowlist, store once, answer.

The checks run in the order the contract fixes, cheapest and least revealing first:
413 too large, 415 wrong media type, 401 unsigned, 403 signer host not allowed (decided
before anything is fetched), 401 bad digest or signature, 400 not an activity, 403 origin
mismatch, then 202 — also for a duplicate, which changes nothing. Processing happens after
the answer, from the stored row.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from federation.client import NotAllowed
from federation.httpsig_base import SignatureError
from federation.httpsig_verify import (
    ParsedSignature,
    check_coverage,
    check_freshness,
    parse,
    signed_digest_matches,
    verify,
)
from federation.jsonld import JsonLdError, normalize
from federation.keys import KeyFormatError, load_public_key
from federation.values import InvalidValue, json_document
from inbox.dereference import FetchError, actor_for_key
from inbox.parse import Unusable, authority, uri_of
from inbox.writer import Received, Refused, writer_for
from models.db import Database
from outbox.context import Federation

log = logging.getLogger("flurfunk.inbox")
MAX_BODY = 1 << 20
MEDIA_TYPES = ("application/activity+json", "application/ld+json", "application/json")
SIGNATURE_WINDOW = 300.0
KEY_TTL = 30.0
# Activities whose object (besides the activity itself) must live on the signer's host.
CHANGES_OBJECT = frozenset({"Create", "Update", "Delete"})


@dataclass(frozen=True)
class Verdict:
    status: int
    error: str | None = None
    stored_id: int | None = None


def media_type_ok(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() in MEDIA_TYPES


async def check_signature(
    fed: Federation, method: str, target_url: str, headers: Mapping[str, str], body: bytes | None
) -> tuple[str, Verdict]:
    """(signer authority, verdict): 401/403 verdicts stop the request."""
    if not any(h in headers for h in ("signature", "signature-input")) and not headers.get(
        "authorization", ""
    ).lower().startswith("signature "):
        return "", Verdict(401, "the request is not signed")
    try:
        parsed = parse(method, target_url, headers)
        signer = authority(parsed.key_id)
    except (SignatureError, Unusable) as exc:
        return "", Verdict(401, str(exc))
    allowlist = await fed.allowlist.fresh()
    if not allowlist.allows_url(parsed.key_id):
        return signer, Verdict(403, f"federation with {signer} is not allowed")
    try:
        # Only what the signature covers counts: a request whose method, target, host, body
        # or age are not signed could be replayed or redirected by anyone who saw it.
        check_coverage(parsed, target_url, headers, has_body=body is not None)
        check_freshness(parsed, headers, time.time(), SIGNATURE_WINDOW)
    except SignatureError as exc:
        return signer, Verdict(401, str(exc))
    if body is not None and not signed_digest_matches(parsed, headers, body):
        return signer, Verdict(401, "the body digest is missing or does not match")
    return signer, await _verify_with_actor_key(fed, parsed)


class RecentKeys:
    """Public keys of signers verified in the last `ttl` seconds, by keyId.

    Looking the key up in the database costs more than verifying the signature; a rotated
    key is noticed anyway, because a signature that fails with a remembered key is checked
    again against the database and then a freshly fetched key. Concurrent requests that
    need the same look-up share it: a burst from a new sender fetches its actor once.
    """

    def __init__(self, ttl: float = KEY_TTL, size: int = 10_000) -> None:
        self.ttl = ttl
        self.size = size
        self._keys: dict[str, tuple[float, str]] = {}
        self._looking_up: dict[tuple[str, bool], asyncio.Future[str]] = {}

    def get(self, key_id: str) -> str | None:
        entry = self._keys.get(key_id)
        if entry is None or time.monotonic() - entry[0] > self.ttl:
            return None
        return entry[1]

    def remember(self, key_id: str, pem: str) -> None:
        if len(self._keys) >= self.size:
            self._keys.clear()
        self._keys[key_id] = (time.monotonic(), pem)

    async def look_up(self, key_id: str, refresh: bool, find: Callable[[], Awaitable[str]]) -> str:
        """`find()`'s result, shared with every request that asks for it meanwhile."""
        wanted = (key_id, refresh)
        pending = self._looking_up.get(wanted)
        if pending is None:
            pending = self._looking_up[wanted] = asyncio.ensure_future(find())
            pending.add_done_callback(lambda done: self._finished(wanted, done))
        # Shielded: a request that goes away does not cancel the others' look-up.
        return await asyncio.shield(pending)

    def _finished(self, wanted: tuple[str, bool], done: asyncio.Future[str]) -> None:
        self._looking_up.pop(wanted, None)
        if not done.cancelled():
            done.exception()  # retrieved here too: every waiter may have gone away


_recent_keys: weakref.WeakKeyDictionary[Database, RecentKeys] = weakref.WeakKeyDictionary()


def recent_keys(db: Database) -> RecentKeys:
    keys = _recent_keys.get(db)
    if keys is None:
        keys = _recent_keys[db] = RecentKeys()
    return keys


async def _verify_with_actor_key(fed: Federation, parsed: ParsedSignature) -> Verdict:
    """Verify with the remembered key, else the stored one; on failure fetch the key once
    more (it may have rotated)."""
    keys = recent_keys(fed.db)
    if _verifies_with(parsed, keys.get(parsed.key_id)):
        return Verdict(202)
    for refresh in (False, True):

        async def find(refresh: bool = refresh) -> str:
            account = await actor_for_key(fed, parsed.key_id, refresh=refresh)
            return account.public_key_pem or ""

        try:
            pem = await keys.look_up(parsed.key_id, refresh, find)
        except (FetchError, NotAllowed) as exc:
            return Verdict(401, f"the signing key could not be fetched: {exc}")
        if _verifies_with(parsed, pem):
            keys.remember(parsed.key_id, pem)
            return Verdict(202)
    return Verdict(401, "the signature does not verify")


def _verifies_with(parsed: ParsedSignature, pem: str | None) -> bool:
    if pem is None:
        return False
    try:
        verify(parsed, load_public_key(pem))
    except (SignatureError, KeyFormatError):
        return False
    return True


def origin_error(activity: dict[str, Any], signer: str) -> str | None:
    """Why the activity may not come from `signer`, or None when it may."""
    actor = uri_of(activity.get("actor"))
    if actor is None:
        return "the activity names no actor"
    if not _lives_on(actor, signer):
        return "the actor lives on another host than the signer"
    activity_id = uri_of(activity.get("id"))
    if activity_id is not None and not _lives_on(activity_id, signer):
        return "the activity id lives on another host than the signer"
    if activity.get("type") in CHANGES_OBJECT:
        object_id = uri_of(activity.get("object"))
        if object_id is None:
            return "the activity names no object"
        if not _lives_on(object_id, signer):
            return "the object lives on another host than the signer"
    return None


def _lives_on(uri: str, host: str) -> bool:
    """authority(uri) == host, where `host` is an authority already; the usual spelling
    (scheme, exactly that host, then a path) is recognised without parsing the URI."""
    for scheme in ("https://", "http://"):
        end = len(scheme) + len(host)
        if (
            uri.startswith(scheme)
            and uri.startswith(host, len(scheme))
            and uri[end : end + 1] in "/?#"
        ):
            return True
    return authority(uri) == host


async def receive(
    fed: Federation, target_url: str, headers: Mapping[str, str], body: bytes
) -> Verdict:
    if len(body) > MAX_BODY:
        return Verdict(413, "the activity is too large")
    if not media_type_ok(headers.get("content-type", "")):
        return Verdict(415, "expected application/activity+json")
    signer, verdict = await check_signature(fed, "POST", target_url, headers, body)
    if verdict.status != 202:
        return verdict
    try:
        document = json_document(body)
    except InvalidValue as exc:
        return Verdict(400, str(exc))
    if not isinstance(document, dict) or not isinstance(document.get("type"), str):
        return Verdict(400, "the body is not an activity")
    try:
        activity = normalize(document)
        problem = origin_error(activity, signer)
    except (JsonLdError, Unusable) as exc:
        return Verdict(400, str(exc))
    if problem is not None:
        return Verdict(403, problem)
    return await store(fed, activity, signer, body)


async def store(fed: Federation, activity: dict[str, Any], signer: str, body: bytes) -> Verdict:
    """Store the activity once (unique by id); a duplicate is accepted and changes nothing.

    The row is committed together with those of concurrent requests (inbox.writer) before
    the answer; an activity that could not be stored is never answered 202.
    """
    # A transient activity without an id is deduplicated by its content.
    activity_id = uri_of(activity.get("id")) or "urn:sha256:" + hashlib.sha256(body).hexdigest()
    received = Received(
        activity_uri=activity_id,
        actor_uri=uri_of(activity.get("actor")) or "",
        type=str(activity["type"])[:64],
        payload=orjson.dumps(activity).decode(),
        signer_host=signer,
    )
    try:
        stored = await writer_for(fed.db).store(received)
    except Refused as exc:
        return Verdict(400, f"the activity cannot be stored: {exc}")
    except Exception as exc:  # the database is unavailable: the sender will try again
        log.warning("could not store %s: %s", activity_id, exc)
        return Verdict(503, "the activity could not be stored; try again later")
    return Verdict(202, stored_id=stored)
