"""Rows -> ActivityStreams 2.0: actors, notes and the activities that carry them.

The one place where our outbound federation shapes are defined (the inbox's parse.py reads
them back; web/api/serializers/ is the client-API counterpart).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from federation.jsonld import AS, MEMBERS_ONLY, PUBLIC
from models.account import Account
from models.base import utcnow
from models.emoji import CustomEmoji
from models.poll import Poll
from models.preview_card import PreviewCard
from models.remote_file import key_of
from models.settings import Settings
from models.status import MediaAttachment, Status, Tag
from outbox import proof_keys
from outbox.emoji_catalogue import as_tag

SECURITY = "https://w3id.org/security/v1"
CONTEXT: list[Any] = [
    AS,
    SECURITY,
    {
        "toot": "http://joinmastodon.org/ns#",
        "sensitive": "as:sensitive",
        "Hashtag": "as:Hashtag",
        "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
        "featured": {"@id": "toot:featured", "@type": "@id"},
        "discoverable": "toot:discoverable",
        "blurhash": "toot:blurhash",
        "focalPoint": {"@container": "@list", "@id": "toot:focalPoint"},
        "schema": "http://schema.org#",
        "PropertyValue": "schema:PropertyValue",
        "value": "schema:value",
        "Emoji": "toot:Emoji",
    },
]


def when(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def with_context(document: dict[str, Any]) -> dict[str, Any]:
    return {"@context": CONTEXT, **document}


# --- actors ----------------------------------------------------------------------------


def actor_uri(settings: Settings, account: Account) -> str:
    return account.uri or settings.url(f"/users/{account.username}")


def key_id(settings: Settings, account: Account) -> str:
    return actor_uri(settings, account) + "#main-key"


def instance_actor_uri(settings: Settings) -> str:
    return settings.url("/actor")


def instance_key_id(settings: Settings) -> str:
    return instance_actor_uri(settings) + "#main-key"


def _image(settings: Settings, path: str | None) -> dict[str, Any] | None:
    if not path:
        return None
    media_type = "image/png" if path.endswith(".png") else "image/jpeg"
    return {"type": "Image", "mediaType": media_type, "url": settings.url("/media/" + path)}


def person(
    settings: Settings,
    account: Account,
    emojis: Sequence[CustomEmoji] = (),
    *,
    members_only: bool | None = None,
) -> dict[str, Any]:
    """`members_only`: for a local group, whether only its members see its posts (so that
    a member's node on another host knows whether a post to it may be public)."""
    uri = actor_uri(settings, account)
    document: dict[str, Any] = {
        "id": uri,
        "type": "Group" if account.group else ("Service" if account.bot else "Person"),
        "preferredUsername": account.username,
        "name": account.display_name,
        "summary": account.note,
        "url": account.url or settings.url(f"/@{account.username}"),
        "inbox": uri + "/inbox",
        "outbox": uri + "/outbox",
        "followers": uri + "/followers",
        "following": uri + "/following",
        "featured": uri + "/collections/featured",
        "endpoints": {"sharedInbox": settings.url("/inbox")},
        "manuallyApprovesFollowers": account.locked,
        "discoverable": account.discoverable,
        "published": when(account.created_at),
        "attachment": [
            {"type": "PropertyValue", "name": f.get("name", ""), "value": f.get("value", "")}
            for f in account.fields
        ],
        "publicKey": {
            "id": uri + "#main-key",
            "owner": uri,
            "publicKeyPem": account.public_key_pem,
        },
    }
    if members_only is not None:
        document[MEMBERS_ONLY] = members_only
    assertion = proof_keys.assertion_methods(uri, account)
    if assertion:
        document["assertionMethod"] = assertion
    if emojis:
        document["tag"] = [as_tag(settings, e) for e in emojis]
    for key, path in (("icon", account.avatar_path), ("image", account.header_path)):
        image = _image(settings, path)
        if image:
            document[key] = image
    return with_context(document)


def instance_actor(settings: Settings, public_key_pem: str) -> dict[str, Any]:
    uri = instance_actor_uri(settings)
    return with_context(
        {
            "id": uri,
            "type": "Application",
            "preferredUsername": settings.domain,
            "name": "Flurfunk",
            "inbox": uri + "/inbox",
            "outbox": uri + "/outbox",
            "endpoints": {"sharedInbox": settings.url("/inbox")},
            "manuallyApprovesFollowers": True,
            "url": settings.url("/about"),
            "publicKey": {"id": uri + "#main-key", "owner": uri, "publicKeyPem": public_key_pem},
        }
    )


# --- statuses --------------------------------------------------------------------------


def status_uri(settings: Settings, author: Account, status: Status) -> str:
    return status.uri or settings.url(f"/users/{author.username}/statuses/{status.id}")


def addressing(
    settings: Settings, author: Account, visibility: str, mentioned: Sequence[Account]
) -> tuple[list[str], list[str]]:
    """(to, cc) for a visibility; `local` posts are never rendered for federation."""
    followers = actor_uri(settings, author) + "/followers"
    mentions = [actor_uri(settings, a) for a in mentioned]
    if visibility == "public":
        return [PUBLIC], [followers, *mentions]
    if visibility == "unlisted":
        return [followers], [PUBLIC, *mentions]
    if visibility == "private":
        return [followers], mentions
    if visibility in ("direct", "group"):  # a group post: outbox.federate adds the group
        return mentions, []
    raise ValueError(f"{visibility} statuses do not federate")


def handle(settings: Settings, account: Account) -> str:
    return f"@{account.username}@{account.domain or settings.domain}"


def note(
    settings: Settings,
    author: Account,
    status: Status,
    *,
    parent_uri: str | None,
    mentioned: Sequence[Account],
    tags: Sequence[Tag],
    media: Sequence[MediaAttachment],
    poll: Poll | None = None,
    emojis: Sequence[CustomEmoji] = (),
    card: PreviewCard | None = None,
) -> dict[str, Any]:
    """The Note of a status; with a poll, a Question (as Mastodon sends polls); a link
    preview travels as a `Link` attachment (FEP-8967) with a `preview` (docs/link-previews.md)."""
    to, cc = addressing(settings, author, status.visibility, mentioned)
    document: dict[str, Any] = {
        "id": status_uri(settings, author, status),
        "type": "Note",
        "attributedTo": actor_uri(settings, author),
        "content": status.content,
        "summary": status.spoiler_text or None,
        "sensitive": status.sensitive,
        "published": when(status.created_at),
        "url": status.url or settings.url(f"/@{author.username}/{status.id}"),
        "inReplyTo": parent_uri,
        "to": to,
        "cc": cc,
        "tag": [
            *(
                {"type": "Mention", "href": actor_uri(settings, a), "name": handle(settings, a)}
                for a in mentioned
            ),
            *(
                {"type": "Hashtag", "href": settings.url(f"/tags/{t.name}"), "name": f"#{t.name}"}
                for t in tags
            ),
            *(as_tag(settings, e) for e in emojis),
        ],
        "attachment": [document_of(settings, m) for m in media],
    }
    if card is not None:
        document["attachment"].append(link_preview(settings, card))
    if status.language:
        document["contentMap"] = {status.language: status.content}
    if status.edited_at is not None:
        document["updated"] = when(status.edited_at)
    if poll is not None:
        document.update(question(poll))
    return document


def question(poll: Poll) -> dict[str, Any]:
    """What makes a Note a Question: the options with their counts, and when it ends."""
    options = [
        {"type": "Note", "name": name, "replies": {"type": "Collection", "totalItems": count}}
        for name, count in zip(poll.options, poll.tallies, strict=True)
    ]
    fields: dict[str, Any] = {
        "type": "Question",
        "anyOf" if poll.multiple else "oneOf": options,
        "votersCount": poll.voters_count,
    }
    if poll.expires_at is not None:
        fields["endTime"] = when(poll.expires_at)
        if poll.expires_at <= utcnow():
            fields["closed"] = when(poll.expires_at)
    return fields


def vote(
    settings: Settings,
    voter: Account,
    vote_id: int,
    option: str,
    question_uri: str,
    poll_author: Account,
) -> dict[str, Any]:
    """Create(Note) of one vote: a note named after the chosen option, in reply to the
    Question, addressed to the poll's author only (as Mastodon votes)."""
    note_id = actor_uri(settings, voter) + f"#votes/{vote_id}"
    author_uri = actor_uri(settings, poll_author)
    return with_context(
        {
            "id": note_id + "/activity",
            "type": "Create",
            "actor": actor_uri(settings, voter),
            "to": [author_uri],
            "object": {
                "id": note_id,
                "type": "Note",
                "name": option,
                "attributedTo": actor_uri(settings, voter),
                "to": [author_uri],
                "inReplyTo": question_uri,
            },
        }
    )


def document_of(settings: Settings, media: MediaAttachment) -> dict[str, Any]:
    url = settings.url("/media/" + media.file_path) if media.file_path else media.remote_url
    document: dict[str, Any] = {
        "type": "Document",
        "mediaType": media.content_type,
        "url": url,
        "name": media.description,
    }
    if media.type == "unknown" and media.file_path:
        # A document: without alt text its file name is what people read (as Mastodon's
        # `name`); `size` in bytes lets a receiver say how large the download is.
        document["name"] = media.description or media.file_name
        document["size"] = media.original_bytes or media.file_size
    original = (media.meta or {}).get("original") or {}
    if original.get("width") and original.get("height"):
        document["width"], document["height"] = original["width"], original["height"]
    if media.blurhash:
        document["blurhash"] = media.blurhash
    return document


CARD_OBJECT_TYPES = {"photo": "Image", "video": "Video"}


def link_preview(settings: Settings, card: PreviewCard) -> dict[str, Any]:
    """The card as a Link with a `preview`; its image is this node's copy, which receivers
    fetch from here like any attachment (they need no access to the linked site)."""
    preview: dict[str, Any] = {
        "type": CARD_OBJECT_TYPES.get(card.type, "Page"),
        "url": card.url or card.link,
        "name": card.title,
        "summary": card.description,
    }
    if card.image_url:
        image: dict[str, Any] = {
            "type": "Image",
            "url": settings.url(f"/media/remote/{key_of(card.image_url)}"),
        }
        if card.width and card.height:
            image["width"], image["height"] = card.width, card.height
        if card.image_description:
            image["name"] = card.image_description
        if card.blurhash:
            image["blurhash"] = card.blurhash
        preview["image"] = image
    if card.author_name or card.author_url:
        preview["attributedTo"] = {
            "type": "Person",
            "name": card.author_name,
            **({"url": card.author_url} if card.author_url else {}),
        }
    if card.provider_name or card.provider_url:
        preview["generator"] = {
            "type": "Service",
            "name": card.provider_name,
            **({"url": card.provider_url} if card.provider_url else {}),
        }
    if card.published_at is not None:
        preview["published"] = when(card.published_at)
    return {
        "type": "Link",
        "href": card.link,
        "mediaType": "text/html",
        "name": card.title,
        "preview": preview,
    }


# --- activities ------------------------------------------------------------------------


def create(note_document: dict[str, Any]) -> dict[str, Any]:
    return with_context(
        {
            "id": note_document["id"] + "/activity",
            "type": "Create",
            "actor": note_document["attributedTo"],
            "published": note_document["published"],
            "to": note_document["to"],
            "cc": note_document["cc"],
            "object": note_document,
        }
    )


def update(note_document: dict[str, Any], edited_at: datetime) -> dict[str, Any]:
    return with_context(
        {
            # Milliseconds: two edits within a second must not share an id (receivers dedupe).
            "id": f"{note_document['id']}#updates/{int(edited_at.timestamp() * 1000)}",
            "type": "Update",
            "actor": note_document["attributedTo"],
            "published": when(edited_at),
            "to": note_document["to"],
            "cc": note_document["cc"],
            "object": note_document,
        }
    )


def delete(actor: str, object_uri: str, to: list[str], cc: list[str]) -> dict[str, Any]:
    return with_context(
        {
            "id": object_uri + "#delete",
            "type": "Delete",
            "actor": actor,
            "to": to,
            "cc": cc,
            "object": {"id": object_uri, "type": "Tombstone"},
        }
    )


def announce(
    activity_uri: str,
    actor: str,
    object_uri: str,
    published: datetime,
    to: list[str],
    cc: list[str],
) -> dict[str, Any]:
    return with_context(
        {
            "id": activity_uri,
            "type": "Announce",
            "actor": actor,
            "published": when(published),
            "to": to,
            "cc": cc,
            "object": object_uri,
        }
    )


def simple(
    activity_type: str,
    activity_uri: str,
    actor: str,
    obj: str | dict[str, Any],
    to: list[str] | None = None,
) -> dict[str, Any]:
    """Follow, Like, Block, Accept, Reject and the like: an actor acting on one object."""
    document: dict[str, Any] = {
        "id": activity_uri,
        "type": activity_type,
        "actor": actor,
        "object": obj,
    }
    if to:
        document["to"] = to
    return with_context(document)


def undo(activity: dict[str, Any]) -> dict[str, Any]:
    inner = {k: v for k, v in activity.items() if k != "@context"}
    return with_context(
        {
            "id": inner["id"] + "/undo",
            "type": "Undo",
            "actor": inner["actor"],
            "object": inner,
            **({"to": inner["to"]} if "to" in inner else {}),
        }
    )


def collection(
    uri: str,
    total: int,
    first_page: str | None = None,
    items: list[Any] | None = None,
    ordered: bool = True,
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": uri,
        "type": "OrderedCollection" if ordered else "Collection",
        "totalItems": total,
    }
    if items is not None:
        document["orderedItems" if ordered else "items"] = items
    elif first_page is not None:
        document["first"] = first_page
    return with_context(document)


def collection_page(
    uri: str, part_of: str, items: list[Any], next_page: str | None
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": uri,
        "type": "OrderedCollectionPage",
        "partOf": part_of,
        "orderedItems": items,
    }
    if next_page:
        document["next"] = next_page
    return with_context(document)
