"""JSON-LD: read well-known documents directly, normalise everything else with pyld.

Nearly every server sends the ActivityStreams context, maybe with the security context and
inline maps for extensions (toot, ostatus, schema, `sensitive`, `Hashtag`, …). Such a document
already means what its plain keys say, so it is read as it is (microseconds). Only a document
whose context redefines a term we read, or names contexts we do not know, is compacted by
pyld (milliseconds) against our own context. Contexts are never fetched: pyld's frozen loader
serves pyld's bundled ones and ours (federation/contexts) and refuses the rest, and unknown
context URLs are left out.

pyld (with requests and lxml) is imported on the first such document only: most nodes never
see one, and it would cost every process ~11 MB.
"""

from __future__ import annotations

import functools
from typing import Any

import orjson

from federation.contexts import bundled_files, canonical_url

AS = "https://www.w3.org/ns/activitystreams"
PUBLIC = AS + "#Public"
PUBLIC_ALIASES = frozenset({PUBLIC, "as:Public", "Public"})
# A Group actor's `true`/`false`: whether only members see its posts. Written as a full IRI,
# so it needs no context entry and survives JSON-LD compaction unchanged (docs/groups.md).
MEMBERS_ONLY = "https://flurfunk.dev/ns#membersOnly"

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
        "https://www.w3.org/ns/did/v1",
        "https://purl.archive.org/socialweb/webfinger",
    }
)
# Contexts that give plain terms (name, url, image, …) other meanings: harmless only before
# the ActivityStreams context, which then redefines those terms (Fedify puts identity first).
REDEFINES_AS_TERMS = frozenset({"https://w3id.org/identity/v1"})

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
        "Emoji",
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
    "Emoji": "toot:Emoji",
}

# What pyld compacts to: the plain names the inbox reads (extensions as Mastodon spells them,
# profile fields and emoji included), so a document that needed pyld reads like any other.
OUTPUT_CONTEXT: list[Any] = [
    AS,
    "https://w3id.org/security/v1",
    {
        "toot": "http://joinmastodon.org/ns#",
        "schema": "http://schema.org#",
        "sensitive": "as:sensitive",
        "Hashtag": "as:Hashtag",
        "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
        "featured": {"@id": "toot:featured", "@type": "@id"},
        "discoverable": "toot:discoverable",
        "Emoji": "toot:Emoji",
        "blurhash": "toot:blurhash",
        "focalPoint": {"@container": "@list", "@id": "toot:focalPoint"},
        "votersCount": "toot:votersCount",
        "PropertyValue": "schema:PropertyValue",
        "value": "schema:value",
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
    for position, entry in enumerate(entries):
        if isinstance(entry, str):
            if entry not in KNOWN_CONTEXTS:
                return False
            if entry in REDEFINES_AS_TERMS and position > entries.index(AS):
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
    """The document in the plain ActivityStreams shape that the inbox reads.

    `signature` (Linked Data Signatures) and `proof` (FEP-8b32) are set aside first: the HTTP
    signature already authenticates the document, proofs are verified from the raw JSON
    (federation.proofs), and their nested contexts must not decide whether the activity is
    understood. A nested context that pyld cannot process costs only the term that carries it.
    """
    if is_well_known(document):
        return document
    try:
        return _normalize_with_pyld(document)
    except (RecursionError, orjson.JSONEncodeError):
        # Nesting deeper than pyld or a copy can follow: nothing this node could read.
        raise JsonLdError("cannot process JSON-LD: the document is nested too deeply") from None


def _normalize_with_pyld(document: dict[str, Any]) -> dict[str, Any]:
    from pyld import jsonld

    body = {k: v for k, v in document.items() if k not in SET_ASIDE}
    if isinstance(body.get("object"), dict):
        body["object"] = {k: v for k, v in body["object"].items() if k not in SET_ASIDE}
    known = _known_entries(body.get("@context"))
    if not known:
        known = [AS]  # no usable context: read the keys as ActivityStreams, like Mastodon does
    candidate = _with_known_nested_contexts(dict(body, **{"@context": known}))
    try:
        return _plain_language_maps(_compact(candidate))
    except jsonld.JsonLdError as exc:
        error = exc
    nested = _nested_context_holders(candidate)
    if nested:
        try:
            return _plain_language_maps(_compact_keeping_what_works(candidate, nested))
        except jsonld.JsonLdError as exc:
            error = exc
    raise JsonLdError(f"cannot process JSON-LD: {error}") from None


def _plain_language_maps(document: dict[str, Any]) -> dict[str, Any]:
    """`summary`, `name` and `content` from their language maps, where a default language
    (LitePub sends `{"@language": "und"}`) turned plain strings into maps."""
    for item in (document, document.get("object")):
        if not isinstance(item, dict):
            continue
        for term in ("summary", "name", "content"):
            values = item.get(term + "Map")
            if term not in item and isinstance(values, dict) and values:
                item[term] = next(iter(values.values()))
    return document


# Keys whose values are proofs about the document, not part of what it says.
SET_ASIDE = frozenset({"signature", "proof"})
# A document whose nested contexts keep failing is refused after this many pyld runs.
MAX_RETRIES = 8


def _compact(candidate: dict[str, Any]) -> dict[str, Any]:
    from pyld import jsonld

    compacted: dict[str, Any] = jsonld.compact(
        candidate, {"@context": OUTPUT_CONTEXT}, options={"documentLoader": _loader()}
    )
    return compacted


def _known_entries(context: Any) -> list[Any]:
    """The context's entries that need no network: inline maps and bundled URLs."""
    bundled = _bundled_documents()
    entries = []
    for entry in _context_entries(context):
        if isinstance(entry, str):
            entry = canonical_url(entry)
            if entry not in bundled:
                continue
        entries.append(entry)
    return entries


TermPath = tuple[str | int, ...]  # keys and list indexes from the top


def _nested_context_holders(document: dict[str, Any]) -> list[TermPath]:
    """Where, below the top, an object brings its own @context (iteratively: any depth)."""
    found: list[TermPath] = []
    stack: list[tuple[TermPath, Any]] = [((), document)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            if path and "@context" in value:
                found.append(path)
            stack.extend(((*path, k), v) for k, v in value.items() if k != "@context")
        elif isinstance(value, list):
            stack.extend(((*path, i), v) for i, v in enumerate(value))
    return found


def _with_known_nested_contexts(document: dict[str, Any]) -> dict[str, Any]:
    """A copy whose nested contexts keep only what needs no network."""
    holders = _nested_context_holders(document)
    if not holders:
        return document
    copy: dict[str, Any] = orjson.loads(orjson.dumps(document))
    for path in holders:
        holder = _at(copy, path)
        holder["@context"] = _known_entries(holder["@context"]) or [AS]
    return copy


def _compact_keeping_what_works(
    document: dict[str, Any], holders: list[TermPath]
) -> dict[str, Any]:
    """Compact without the terms whose nested contexts fail, putting back each one that works."""
    from pyld import jsonld

    dropped = sorted(holders, key=len)
    best = _compact(_without(document, dropped))  # may raise: then the top level is the fault
    for holder in dropped[: MAX_RETRIES - 2]:
        remaining = [p for p in dropped if p != holder]
        try:
            best = _compact(_without(document, remaining))
        except jsonld.JsonLdError:
            continue
        dropped = remaining
    return best


def _without(document: dict[str, Any], paths: list[TermPath]) -> dict[str, Any]:
    copy: dict[str, Any] = orjson.loads(orjson.dumps(document))
    # Deepest first, and list items from the back, so that earlier paths stay valid.
    for path in sorted(paths, key=lambda p: (len(p), p[-1] if isinstance(p[-1], int) else 0))[::-1]:
        try:
            parent = _at(copy, path[:-1])
            del parent[path[-1]]
        except (KeyError, IndexError, TypeError):
            continue  # inside something removed already
    return copy


def _at(document: Any, path: TermPath) -> Any:
    for step in path:
        document = document[step]
    return document


@functools.cache
def _bundled_documents() -> dict[str, Any]:
    """Every context URL served offline: pyld's frozen set plus the node's own files."""
    from pyld.documentloader.frozen import BUNDLED_CONTEXTS

    return dict(BUNDLED_CONTEXTS, **bundled_files())


@functools.cache
def _loader() -> Any:
    """A pyld loader that serves only the bundled contexts and refuses everything else."""
    from pyld.documentloader.frozen import FrozenDocumentLoader

    return FrozenDocumentLoader(documents=_bundled_documents())


def is_public(address: str) -> bool:
    return address in PUBLIC_ALIASES
