"""Receiving an activity: verify, check the allowlist, store once, answer.

The checks run in the order the contract fixes, cheapest and least revealing first:
413 too large, 415 wrong media type, 401 unsigned, 403 signer host not allowed (decided
before anything is fetched), 401 bad digest or signature, 400 not an activity, 403 origin
mismatch, then 202 — also for a duplicate, which changes nothing. Processing happens after
the answer, from the stored row.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from federation.client import NotAllowed
from federation.httpsig import (
    ParsedSignature,
    SignatureError,
    body_digest_matches,
    check_freshness,
    covers_body,
    parse,
    verify,
)
from federation.jsonld import JsonLdError, normalize
from federation.keys import KeyFormatError, load_public_key
from inbox.dereference import FetchError, actor_for_key
from inbox.parse import Unusable, authority, uri_of
from models.base import utcnow
from models.federation import InboxActivity
from outbox.context import Federation
from outbox.hosts import host_is_alive

MAX_BODY = 1 << 20
MEDIA_TYPES = ("application/activity+json", "application/ld+json", "application/json")
SIGNATURE_WINDOW = 300.0
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
    if body is not None and (
        not covers_body(parsed) or body_digest_matches(headers, body) is not True
    ):
        return signer, Verdict(401, "the body digest is missing or does not match")
    try:
        check_freshness(parsed, headers, time.time(), SIGNATURE_WINDOW)
    except SignatureError as exc:
        return signer, Verdict(401, str(exc))
    return signer, await _verify_with_actor_key(fed, parsed)


async def _verify_with_actor_key(fed: Federation, parsed: ParsedSignature) -> Verdict:
    """Verify with the cached key; on failure fetch the key once more (it may have rotated)."""
    for refresh in (False, True):
        try:
            account = await actor_for_key(fed, parsed.key_id, refresh=refresh)
            verify(parsed, load_public_key(account.public_key_pem or ""))
            return Verdict(202)
        except (SignatureError, KeyFormatError):
            continue
        except (FetchError, NotAllowed) as exc:
            return Verdict(401, f"the signing key could not be fetched: {exc}")
    return Verdict(401, "the signature does not verify")


def origin_error(activity: dict[str, Any], signer: str) -> str | None:
    """Why the activity may not come from `signer`, or None when it may."""
    actor = uri_of(activity.get("actor"))
    if actor is None:
        return "the activity names no actor"
    if authority(actor) != signer:
        return "the actor lives on another host than the signer"
    activity_id = uri_of(activity.get("id"))
    if activity_id is not None and authority(activity_id) != signer:
        return "the activity id lives on another host than the signer"
    if activity.get("type") in CHANGES_OBJECT:
        object_id = uri_of(activity.get("object"))
        if object_id is None:
            return "the activity names no object"
        if authority(object_id) != signer:
            return "the object lives on another host than the signer"
    return None


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
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return Verdict(400, "the body is not JSON")
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
    """Store the activity once (unique by id); a duplicate is accepted and changes nothing."""
    # A transient activity without an id is deduplicated by its content.
    activity_id = uri_of(activity.get("id")) or "urn:sha256:" + hashlib.sha256(body).hexdigest()
    now = utcnow()
    try:
        async with fed.db.write() as session:
            exists = await session.scalar(
                select(InboxActivity.id).where(InboxActivity.activity_uri == activity_id)
            )
            if exists is not None:
                return Verdict(202)
            row = InboxActivity(
                activity_uri=activity_id,
                actor_uri=uri_of(activity.get("actor")) or "",
                type=str(activity["type"])[:64],
                payload=orjson.dumps(activity).decode(),
                signer_host=signer,
                received_at=now,
                next_attempt_at=now,
            )
            session.add(row)
            await host_is_alive(session, signer, now)
            await session.flush()
            stored = row.id
    except IntegrityError:
        return Verdict(202)  # the same activity arrived twice at once
    return Verdict(202, stored_id=stored)
