"""ActivityStreams -> our rows: the one place that reads remote documents' shapes, with
inbox.parse_notes for notes and what they carry. Here: the checked accessors, and actors.

Remote documents are untrusted: every accessor checks types and lengths, and anything
unusable raises `Unusable` (a 4xx for the sender, never a 5xx).
"""

from __future__ import annotations

import html
import re
from datetime import datetime
from typing import Any

import nh3

from federation import values
from federation.jsonld import MEMBERS_ONLY, is_public
from federation.values import InvalidValue
from outbox.content import sanitise

ACTOR_TYPES = frozenset({"Person", "Service", "Application", "Group", "Organization"})
MAX_TEXT = 100_000
MAX_URI = 1024  # the longest URI our columns hold; a longer one is unusable
_MARKUP_PASSES = 4
# A handle's user part: no markup, spaces or `@` (apps show `acct` as it is). `:` because an
# instance actor is named after its node's authority, which may carry a port (`hq:8443`).
_USERNAME = re.compile(r"^[\w.~:-]{1,64}$")


class Unusable(ValueError):
    """A document we cannot use; the message says why."""


def uri_of(value: Any) -> str | None:
    """The id of a reference: a URI string, or an object carrying `id` (or `href`)."""
    if isinstance(value, str):
        if len(value) > MAX_URI:
            return None
        return value if value.startswith(("https://", "http://")) else None
    if isinstance(value, dict):
        return uri_of(value.get("id") or value.get("href"))
    return None


def uris(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [u for u in (uri_of(i) for i in items) if u]


def type_of(document: Any) -> str | None:
    """A document's `type` when it is one plain string (a list or object is no type we know)."""
    kind = document.get("type") if isinstance(document, dict) else None
    return kind if isinstance(kind, str) else None


def first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def text(value: Any, limit: int = MAX_TEXT) -> str:
    value = first(value)
    return value[:limit] if isinstance(value, str) else ""


def authority(uri: str) -> str:
    """host[:port] of a URI, lower case, default ports dropped — what origins compare."""
    try:
        return values.authority(uri)
    except InvalidValue:
        raise Unusable(f"bad authority in {uri[:200]!r}") from None


def timestamp(value: Any) -> datetime | None:
    try:
        return values.iso_datetime(value, clamp=True)
    except InvalidValue:
        return None


def addresses(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def addressed_publicly(document: dict[str, Any]) -> tuple[bool, bool]:
    """(public in `to`, public in `cc`)."""

    def has_public(key: str) -> bool:
        return any(isinstance(i, str) and is_public(i) for i in addresses(document.get(key)))

    return has_public("to"), has_public("cc")


def actor_fields(document: dict[str, Any]) -> dict[str, Any]:
    """The columns of a remote Account, from its actor document."""
    uri = uri_of(document.get("id"))
    if uri is None or type_of(document) not in ACTOR_TYPES:
        raise Unusable("not an actor document")
    username = text(document.get("preferredUsername"), 65)
    if not _USERNAME.fullmatch(username):
        raise Unusable("the actor has no preferredUsername fit for a handle")
    inbox = uri_of(document.get("inbox"))
    if inbox is None:
        raise Unusable("the actor has no inbox")
    endpoints = document.get("endpoints")
    if not isinstance(endpoints, dict):
        endpoints = {}
    key = document.get("publicKey")
    keys = key if isinstance(key, list) else [key]
    pem = next(
        (
            k.get("publicKeyPem")
            for k in keys
            if isinstance(k, dict) and isinstance(k.get("publicKeyPem"), str)
        ),
        None,
    )
    icon, image = first(document.get("icon")), first(document.get("image"))
    fields = (
        [
            {"name": plain(a.get("name"), 255), "value": sanitise(text(a.get("value"), 2048))}
            for a in (document.get("attachment") or [])
            if isinstance(a, dict) and a.get("type") == "PropertyValue"
        ][:8]
        if isinstance(document.get("attachment"), list)
        else []
    )
    return {
        "uri": uri,
        "username": username,
        "domain": authority(uri),
        "display_name": plain(document.get("name"), 255),
        "note": sanitise(text(document.get("summary"), 20_000)),
        "url": uri_of(first(document.get("url"))) or uri,
        "inbox_url": inbox,
        "shared_inbox_url": uri_of(endpoints.get("sharedInbox")),
        "followers_url": uri_of(document.get("followers")),
        "public_key_pem": pem,
        "locked": document.get("manuallyApprovesFollowers") is True,
        "bot": document.get("type") in ("Service", "Application"),
        "group": document.get("type") == "Group",
        "group_visibility": _group_visibility(document),
        "discoverable": document.get("discoverable") is not False,
        "fields": fields,
        "avatar_remote_url": uri_of(icon.get("url")) if isinstance(icon, dict) else None,
        "header_remote_url": uri_of(image.get("url")) if isinstance(image, dict) else None,
    }


def _group_visibility(document: dict[str, Any]) -> str | None:
    """A group's visibility as its actor tells it; None when it does not (another server)."""
    members_only = document.get(MEMBERS_ONLY)
    if document.get("type") != "Group" or not isinstance(members_only, bool):
        return None
    return "members" if members_only else "public"


def plain_text(content_html: str) -> str:
    """A plain-text rendering of remote HTML (for search and the `text` of a status)."""
    spaced = content_html.replace("<br>", "\n").replace("</p><p>", "\n\n")
    return html.unescape(nh3.clean(spaced, tags=set()))


def markup_free(fragment: str) -> str:
    """Text with every tag removed, not escaped: some apps render names, poll options and
    descriptions as HTML. Entities are decoded until no tag can hide behind one
    (`&lt;img onerror=…&gt;` goes too); `a < b`, `Tom & Jerry` and `:blobcat:` stay."""
    for _ in range(_MARKUP_PASSES):
        cleaned = html.unescape(nh3.clean(fragment, tags=set()))
        if cleaned == fragment:
            return cleaned
        fragment = cleaned
    return fragment.replace("<", "").replace(">", "")  # entities nested deeper than any app


def plain(value: Any, limit: int) -> str:
    """A remote field shown as text (names, options, descriptions), markup removed."""
    return markup_free(text(value, limit)).strip()
