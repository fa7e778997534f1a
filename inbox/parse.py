"""ActivityStreams -> our rows: the one place that reads remote documents' shapes.

Remote documents are untrusted: every accessor checks types and lengths, and anything
unusable raises `Unusable` (a 4xx for the sender, never a 5xx).
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from federation.allowlist import PatternError, split_host_port
from federation.jsonld import is_public

ACTOR_TYPES = frozenset({"Person", "Service", "Application", "Group", "Organization"})
MAX_TEXT = 100_000


class Unusable(ValueError):
    """A document we cannot use; the message says why."""


def uri_of(value: Any) -> str | None:
    """The id of a reference: a URI string, or an object carrying `id` (or `href`)."""
    if isinstance(value, str):
        return value if value.startswith(("https://", "http://")) else None
    if isinstance(value, dict):
        return uri_of(value.get("id") or value.get("href"))
    return None


def uris(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [u for u in (uri_of(i) for i in items) if u]


def first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def text(value: Any, limit: int = MAX_TEXT) -> str:
    value = first(value)
    return value[:limit] if isinstance(value, str) else ""


def authority(uri: str) -> str:
    """host[:port] of a URI, lower case, default ports dropped — what origins compare."""
    parts = urlsplit(uri)
    try:
        host, port = split_host_port(parts.netloc.rpartition("@")[2])
    except PatternError:
        raise Unusable(f"bad authority in {uri!r}") from None
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return host if port in (None, default) else f"{host}:{port}"


def timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _addresses(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def addressed_publicly(document: dict[str, Any]) -> tuple[bool, bool]:
    """(public in `to`, public in `cc`)."""

    def has_public(key: str) -> bool:
        return any(isinstance(i, str) and is_public(i) for i in _addresses(document.get(key)))

    return has_public("to"), has_public("cc")


def actor_fields(document: dict[str, Any]) -> dict[str, Any]:
    """The columns of a remote Account, from its actor document."""
    uri = uri_of(document.get("id"))
    if uri is None or document.get("type") not in ACTOR_TYPES:
        raise Unusable("not an actor document")
    username = text(document.get("preferredUsername"), 64)
    if not username:
        raise Unusable("the actor has no preferredUsername")
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
            {"name": text(a.get("name"), 255), "value": text(a.get("value"), 2048)}
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
        "display_name": text(document.get("name"), 255) or "",
        "note": text(document.get("summary"), 20_000),
        "url": uri_of(first(document.get("url"))) or uri,
        "inbox_url": inbox,
        "shared_inbox_url": uri_of(endpoints.get("sharedInbox")),
        "followers_url": uri_of(document.get("followers")),
        "public_key_pem": pem,
        "locked": document.get("manuallyApprovesFollowers") is True,
        "bot": document.get("type") in ("Service", "Application"),
        "group": document.get("type") == "Group",
        "discoverable": document.get("discoverable") is not False,
        "fields": fields,
        "avatar_remote_url": uri_of(icon.get("url")) if isinstance(icon, dict) else None,
        "header_remote_url": uri_of(image.get("url")) if isinstance(image, dict) else None,
    }


def plain_text(content_html: str) -> str:
    """A rough plain-text rendering of remote HTML (for search and `text` fallbacks)."""
    return html.unescape(content_html.replace("<br>", "\n").replace("</p><p>", "\n\n"))
