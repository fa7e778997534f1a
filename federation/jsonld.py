"""JSON-LD: read well-known documents directly, normalise everything else with pyld.

Nearly every server sends the ActivityStreams context, maybe with the security context and
inline maps for extensions (toot, ostatus, schema, `sensitive`, `Hashtag`, …). Such a document
already means what its plain keys say, so it is read as it is (microseconds). Only a document
whose context redefines a term we read, or names contexts we do not know, is compacted by
pyld (milliseconds) against our own context. Contexts are never fetched: pyld's frozen loader
serves the bundled ones and refuses the rest, and unknown context URLs are left out.

pyld (with requests and lxml) is imported on the first such document only: most nodes never
see one, and it would cost every process ~11 MB.
"""

from __future__ import annotations

import functools
from typing import Any

AS = "https://www.w3.org/ns/activitystreams"
PUBLIC = AS + "#Public"
PUBLIC_ALIASES = frozenset({PUBLIC, "as:Public", "Public"})

KNOWN_CONTEXTS = frozenset(
    {
        AS,
        "https://w3id.org/security/v1",
        "https://w3id.org/security/v2",
        "https://w3id.org/security/data-integrity/v1",
        "https://w3id.org/security/data-integrity/v2",
        "https://w3id.org/security/multikey/v1",
        "https://w3id.org/security/suites/ed25519-2020/v1",
        "https://w3id.org/identity/v1",
        "https://purl.archive.org/socialweb/webfinger",
    }
)

# Terms whose meaning we rely on; an inline map may only give them their standard meaning.
READ_TERMS = frozenset(
    {
        "id",
        "type",
        "actor",
        "object",
        "target",
        "to",
        "cc",
        "bto",
        "bcc",
        "audience",
        "content",
        "contentMap",
        "summary",
        "name",
        "inReplyTo",
        "attributedTo",
        "tag",
        "attachment",
        "published",
        "updated",
        "url",
        "href",
        "mediaType",
        "inbox",
        "outbox",
        "followers",
        "following",
        "endpoints",
        "sharedInbox",
        "publicKey",
        "publicKeyPem",
        "owner",
        "preferredUsername",
        "icon",
        "image",
        "sensitive",
        "manuallyApprovesFollowers",
        "movedTo",
        "alsoKnownAs",
        "featured",
        "discoverable",
        "Hashtag",
        "quoteUrl",
    }
)
STANDARD_DEFINITIONS: dict[str, Any] = {
    "sensitive": "as:sensitive",
    "Hashtag": "as:Hashtag",
    "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
    "movedTo": {"@id": "as:movedTo", "@type": "@id"},
    "alsoKnownAs": {"@id": "as:alsoKnownAs", "@type": "@id"},
    "featured": {"@id": "toot:featured", "@type": "@id"},
    "discoverable": "toot:discoverable",
    "quoteUrl": "as:quoteUrl",
}

OUTPUT_CONTEXT: list[Any] = [
    AS,
    "https://w3id.org/security/v1",
    {
        "toot": "http://joinmastodon.org/ns#",
        "sensitive": "as:sensitive",
        "Hashtag": "as:Hashtag",
        "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
        "featured": {"@id": "toot:featured", "@type": "@id"},
        "discoverable": "toot:discoverable",
    },
]


class JsonLdError(ValueError):
    """A document that cannot be understood as JSON-LD."""


def _context_entries(context: Any) -> list[Any]:
    if context is None:
        return []
    return context if isinstance(context, list) else [context]


def is_well_known(document: dict[str, Any]) -> bool:
    """True when the document's plain keys already carry their ActivityStreams meaning."""
    entries = _context_entries(document.get("@context"))
    if AS not in entries:
        return False
    for entry in entries:
        if isinstance(entry, str):
            if entry not in KNOWN_CONTEXTS:
                return False
        elif isinstance(entry, dict):
            for term, definition in entry.items():
                if term in READ_TERMS and STANDARD_DEFINITIONS.get(term) != definition:
                    return False
                if term.startswith("@") and term not in ("@language", "@version"):
                    return False
        else:
            return False
    return True


def normalize(document: dict[str, Any]) -> dict[str, Any]:
    """The document in the plain ActivityStreams shape that the inbox reads."""
    if is_well_known(document):
        return document
    from pyld import jsonld

    bundled, loader = _pyld_contexts()
    known = [
        e
        for e in _context_entries(document.get("@context"))
        if not isinstance(e, str) or e in bundled
    ]
    if not known:
        known = [AS]  # no usable context: read the keys as ActivityStreams, like Mastodon does
    candidate = dict(document, **{"@context": known})
    try:
        compacted: dict[str, Any] = jsonld.compact(
            candidate, {"@context": OUTPUT_CONTEXT}, options={"documentLoader": loader}
        )
    except jsonld.JsonLdError as exc:
        raise JsonLdError(f"cannot process JSON-LD: {exc}") from None
    return compacted


@functools.cache
def _pyld_contexts() -> tuple[frozenset[str], Any]:
    """The context URLs pyld bundles, and a loader that serves only those."""
    from pyld.documentloader.frozen import BUNDLED_CONTEXTS, FrozenDocumentLoader

    return frozenset(BUNDLED_CONTEXTS), FrozenDocumentLoader(documents=dict(BUNDLED_CONTEXTS))


def is_public(address: str) -> bool:
    return address in PUBLIC_ALIASES
