"""The JSON-LD contexts the node understands without the network.

pyld bundles ActivityStreams, security v1/v2, DID v1, the credentials contexts and two
signature suites. The files here add what other servers put in their `@context` and pyld
lacks: the identity, data-integrity and multikey vocabularies that Fedify-based servers send
(with FEP-8b32 proofs), Pleroma's and Akkoma's LitePub context, Mastodon's `toot:` namespace
(which Bonfire names as a URL although nothing is served there), GoToSocial's interaction
policies, Lemmy's context, the SWICG miscellany, the webfinger term, and schema.org (only its
vocabulary and the few terms servers use; the published document is 200 KB of type
coercions nobody here reads).

Each file carries the term definitions of the published document at that URL (W3C CCG,
W3C DID WG, SWICG, the projects' own pages); protected contexts must match their published
form exactly, or a document that combines them fails.
"""

from __future__ import annotations

from pathlib import Path

_DIR = Path(__file__).parent

CONTEXT_FILES: dict[str, str] = {
    "https://w3id.org/identity/v1": "identity-v1.jsonld",
    "https://w3id.org/security/data-integrity/v1": "data-integrity-v1.jsonld",
    "https://w3id.org/security/data-integrity/v2": "data-integrity-v2.jsonld",
    "https://w3id.org/security/multikey/v1": "multikey-v1.jsonld",
    "https://litepub.social/context.jsonld": "litepub-0.1.jsonld",
    "http://joinmastodon.org/ns": "joinmastodon.jsonld",
    "https://gotosocial.org/ns": "gotosocial.jsonld",
    "https://join-lemmy.org/context.json": "join-lemmy.jsonld",
    "https://purl.archive.org/miscellany": "miscellany.jsonld",
    "https://purl.archive.org/socialweb/webfinger": "webfinger.jsonld",
    "http://schema.org/": "schema-org.jsonld",
}

# Other spellings of the same documents, as servers send them.
ALIASES: dict[str, str] = {
    "https://joinmastodon.org/ns": "http://joinmastodon.org/ns",
    "http://joinmastodon.org/ns#": "http://joinmastodon.org/ns",
    "http://schema.org": "http://schema.org/",
    "https://schema.org": "http://schema.org/",
    "https://schema.org/": "http://schema.org/",
    "http://schema.org#": "http://schema.org/",
    "https://schema.org/docs/jsonldcontext.json": "http://schema.org/",
    "http://litepub.social/context.jsonld": "https://litepub.social/context.jsonld",
}
# Pleroma and Akkoma serve LitePub from each instance: https://<host>/schemas/litepub-0.1.jsonld
LITEPUB_PATH = "/schemas/litepub-0.1.jsonld"


def bundled_files() -> dict[str, Path]:
    """Context URL -> the file that holds it."""
    return {url: _DIR / name for url, name in CONTEXT_FILES.items()}


def canonical_url(url: str) -> str:
    """The URL under which a context is bundled (LitePub from any host, known aliases)."""
    if url.endswith(LITEPUB_PATH):
        return "https://litepub.social/context.jsonld"
    return ALIASES.get(url, url)
