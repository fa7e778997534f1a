"""Notes and what they carry, as read from remote documents: addressing, content, attachments,
link preview cards, hashtags, mentions and custom emoji tags. Untrusted like everything
remote: every field is checked by the accessors of inbox.parse, and anything unusable raises
`Unusable`.
"""

from __future__ import annotations

import html
import ipaddress
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from federation.jsonld import is_public
from inbox.parse import (
    Unusable,
    addressed_publicly,
    addresses,
    authority,
    first,
    plain,
    plain_text,
    text,
    timestamp,
    type_of,
    uri_of,
    uris,
)
from outbox.content import sanitise

NOTE_TYPES = frozenset({"Note", "Article", "Page", "Question"})
MEDIA_TYPES = frozenset({"Document", "Image", "Video", "Audio", "Link"})
MAX_ATTACHMENTS = 4
MAX_TAGS = 64
MAX_ADDRESSES = 1000
MAX_SPOILER = 5_000
MAX_DESCRIPTION = 1_500
MAX_FILE_NAME = 255
MAX_FILE_SIZE = 2**31 - 1  # what the attachment row holds; no document is near it
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_LANGUAGE = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")
_TAG_NAME = re.compile(r"^\w{1,255}$")
_BLURHASH = re.compile(r"^[0-9A-Za-z#$%*+,.:;=?@\[\]^_{|}~-]{6,100}$")  # base 83
_MEDIA_TYPE = re.compile(r"^[a-z0-9][\w.+-]*/[\w.+-]+$")
# A document's `name` is its alt text or else its file name (docs: README "Attachments"):
# only a name that ends in an extension is taken for a file name.
_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,8}$")


@dataclass(frozen=True)
class RemoteMedia:
    """An attachment of a remote note: stored as a link to the file on its home node."""

    remote_url: str
    type: str  # Mastodon's kinds: image, video, audio, unknown (documents)
    content_type: str
    description: str | None
    blurhash: str | None
    meta: dict[str, Any]
    # A document's file name and size in bytes, as its node tells them (None when unknown).
    file_name: str | None = None
    file_size: int | None = None


@dataclass(frozen=True)
class RemoteCard:
    """A link preview sent with a note (a `Link` attachment with a `preview`, FEP-8967 as
    docs/link-previews.md describes); its image is fetched from the author's node only."""

    link: str
    url: str
    title: str
    description: str
    type: str  # link, photo, video (rich HTML never travels)
    author_name: str
    author_url: str
    provider_name: str
    provider_url: str
    image_url: str | None
    image_description: str
    width: int
    height: int
    blurhash: str | None
    published_at: datetime | None


@dataclass(frozen=True)
class ParsedNote:
    """What we keep of a Note (or Article, Page, Question), every field checked."""

    uri: str
    author_uri: str
    url: str | None
    content: str  # sanitised HTML
    text: str  # the same, as plain text (search)
    spoiler_text: str
    sensitive: bool
    language: str | None
    addressed: frozenset[str]  # to, cc, bto, bcc and audience, without Public
    public_in_to: bool
    public_in_cc: bool
    in_reply_to: str | None
    published: datetime | None
    updated: datetime | None
    mentions: tuple[str, ...]  # actor URIs of `Mention` tags
    hashtags: tuple[str, ...]  # lower case, without `#`
    media: tuple[RemoteMedia, ...]
    card: RemoteCard | None = None

    def visibility(self, followers_url: str | None) -> str:
        """Public in `to`: public; in `cc`: unlisted; the followers collection: private;
        otherwise only the addressed and mentioned may read it: direct."""
        if self.public_in_to:
            return "public"
        if self.public_in_cc:
            return "unlisted"
        followers = followers_url or self.author_uri + "/followers"
        return "private" if followers in self.addressed else "direct"


def boost_visibility(activity: dict[str, Any]) -> str:
    """An Announce is public, unlisted, or for the booster's followers only."""
    public_in_to, public_in_cc = addressed_publicly(activity)
    return "public" if public_in_to else "unlisted" if public_in_cc else "private"


def is_note(document: Any) -> bool:
    return type_of(document) in NOTE_TYPES


def author_of(document: dict[str, Any]) -> str | None:
    """The actor a note is attributed to; of several (PeerTube), the first person."""
    candidates = addresses(document.get("attributedTo"))[:MAX_TAGS]
    people = [c for c in candidates if isinstance(c, dict) and c.get("type") == "Person"]
    return next((u for u in (uri_of(c) for c in (*people, *candidates)) if u), None)


def note_fields(document: Any, *, activity: dict[str, Any] | None = None) -> ParsedNote:
    """The columns of a remote status; the activity's addressing stands in for a note
    that carries none."""
    if not is_note(document):
        raise Unusable("not a note")
    uri = uri_of(document.get("id"))
    author = author_of(document)
    if uri is None or author is None:
        raise Unusable("the note has no id or no author")
    addressing = document
    if activity is not None and not any(k in document for k in ("to", "cc")):
        addressing = activity
    public_in_to, public_in_cc = addressed_publicly(addressing)
    spoiler_text = plain(document.get("summary"), MAX_SPOILER)
    published = bounded_time(document.get("published"))
    updated = bounded_time(document.get("updated"))
    content = _content(document)
    return ParsedNote(
        uri=uri,
        author_uri=author,
        url=_url(document.get("url")),
        content=content,
        text=plain_text(content).strip(),
        spoiler_text=spoiler_text,
        sensitive=document.get("sensitive") is True or bool(spoiler_text),
        language=_language(document.get("contentMap")),
        addressed=frozenset(
            u
            for key in ("to", "cc", "bto", "bcc", "audience")
            for u in uris(addresses(addressing.get(key))[:MAX_ADDRESSES])
            if not is_public(u)
        ),
        public_in_to=public_in_to,
        public_in_cc=public_in_cc,
        in_reply_to=uri_of(first(document.get("inReplyTo"))),
        published=published,
        updated=updated if updated and published and updated > published else None,
        mentions=_tagged(document, "Mention"),
        hashtags=_hashtags(document),
        media=_media(document),
        card=_card(document, author),
    )


def _content(document: dict[str, Any]) -> str:
    body = text(document.get("content"))
    if not body and isinstance(document.get("contentMap"), dict):
        body = text(next(iter(document["contentMap"].values()), ""))
    if document.get("type") in ("Article", "Page"):
        title = text(document.get("name"), 500)
        if title:
            body = f"<p><strong>{html.escape(title)}</strong></p>{body}"
    return sanitise(body)


def _url(value: Any) -> str | None:
    """A note's web address; of several links, the HTML one."""
    links = addresses(value)[:MAX_TAGS]
    pages = [
        link for link in links if isinstance(link, dict) and link.get("mediaType") == "text/html"
    ]
    return next((u for u in (uri_of(link) for link in (*pages, *links)) if u), None)


def bounded_time(value: Any) -> datetime | None:
    """A timestamp no later than now and no earlier than 2000: ids are derived from it."""
    moment = timestamp(value)
    if moment is None:
        return None
    return min(max(moment, EARLIEST), datetime.now(UTC))


def _language(content_map: Any) -> str | None:
    if not isinstance(content_map, dict):
        return None
    for key in list(content_map)[:MAX_TAGS]:
        if isinstance(key, str) and len(key) <= 16 and _LANGUAGE.fullmatch(key):
            return key.lower()
    return None


def _tags(document: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [
        t
        for t in addresses(document.get("tag"))[: MAX_TAGS * 4]
        if isinstance(t, dict) and t.get("type") == kind
    ]


def _tagged(document: dict[str, Any], kind: str) -> tuple[str, ...]:
    found = (uri_of(t.get("href")) for t in _tags(document, kind))
    return tuple(dict.fromkeys(u for u in found if u))[:MAX_TAGS]


def _hashtags(document: dict[str, Any]) -> tuple[str, ...]:
    names = (text(t.get("name"), 256).removeprefix("#").lower() for t in _tags(document, "Hashtag"))
    return tuple(dict.fromkeys(n for n in names if _TAG_NAME.fullmatch(n)))[:MAX_TAGS]


def media_kind(media_type: str, as_type: Any) -> str:
    """Mastodon's attachment kinds; documents (PDF, office files) are `unknown`."""
    major = media_type.split("/", 1)[0]
    if major in ("image", "video", "audio"):
        return major
    if not media_type and as_type in ("Image", "Video", "Audio"):
        return str(as_type).lower()
    return "unknown"


def _media(document: dict[str, Any]) -> tuple[RemoteMedia, ...]:
    found: list[RemoteMedia] = []
    for item in addresses(document.get("attachment"))[: MAX_TAGS * 4]:
        if len(found) >= MAX_ATTACHMENTS:
            break
        if not isinstance(item, dict) or type_of(item) not in MEDIA_TYPES:
            continue
        url = _url(item.get("url") or item.get("href"))
        media_type = text(item.get("mediaType"), 255).split(";", 1)[0].strip().lower()
        media_type = media_type if _MEDIA_TYPE.fullmatch(media_type) else ""
        if url is None or (item.get("type") == "Link" and media_type == "text/html"):
            continue
        kind = media_kind(media_type, item.get("type"))
        description = plain(item.get("name"), MAX_DESCRIPTION) or None
        is_document = kind == "unknown"
        found.append(
            RemoteMedia(
                remote_url=url,
                type=kind,
                content_type=media_type or "application/octet-stream",
                description=description,
                blurhash=_blurhash(item.get("blurhash")),
                meta=_media_meta(item),
                file_name=file_name(description) if is_document else None,
                file_size=file_size(item.get("size")) if is_document else None,
            )
        )
    return tuple(found)


def file_name(name: str | None) -> str | None:
    """A document's name as a file name people may save it under, or None: plain text that
    ends in an extension, without folders, control characters or excess length."""
    if not name or len(name) > MAX_FILE_NAME or not _EXTENSION.search(name):
        return None
    if "/" in name or "\\" in name or name.startswith(".") or not name.isprintable():
        return None
    return name


def file_size(value: Any) -> int | None:
    """A document's size in bytes: a whole number within what any file could be."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_FILE_SIZE:
        return value
    return None


_CARD_TYPES = {"Image": "photo", "Video": "video"}


def _card(document: dict[str, Any], author_uri: str) -> RemoteCard | None:
    """The first `Link` attachment that carries a `preview` object."""
    for item in addresses(document.get("attachment"))[: MAX_TAGS * 4]:
        if not isinstance(item, dict) or type_of(item) != "Link":
            continue
        preview, link = item.get("preview"), uri_of(item.get("href"))
        if not isinstance(preview, dict) or link is None:
            continue
        image = preview.get("image")
        image = first(image) if isinstance(image, list) else image
        image_url = uri_of(image.get("url")) if isinstance(image, dict) else None
        if image_url and authority(image_url) != authority(author_uri):
            image_url = None  # only the author's node serves the image to us
        image = image if isinstance(image, dict) and image_url else {}
        author = first(preview.get("attributedTo"))
        author = author if isinstance(author, dict) else {}
        provider = first(preview.get("generator"))
        provider = provider if isinstance(provider, dict) else {}
        sized = _dimension(image.get("width")) and _dimension(image.get("height"))
        return RemoteCard(
            link=link,
            url=uri_of(first(preview.get("url"))) or link,
            title=plain(preview.get("name"), 300),
            description=plain(preview.get("summary"), 1000),
            type=_CARD_TYPES.get(type_of(preview) or "", "link"),
            author_name=plain(author.get("name"), 200),
            author_url=uri_of(author.get("url")) or "",
            provider_name=plain(provider.get("name"), 200),
            provider_url=uri_of(provider.get("url")) or "",
            image_url=image_url,
            image_description=plain(image.get("name"), MAX_DESCRIPTION),
            width=image["width"] if sized else 0,
            height=image["height"] if sized else 0,
            blurhash=_blurhash(image.get("blurhash")),
            published_at=bounded_time(preview.get("published")),
        )
    return None


def _media_meta(item: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    width, height = item.get("width"), item.get("height")
    if (
        isinstance(width, int)
        and isinstance(height, int)
        and _dimension(width)
        and _dimension(height)
    ):
        meta["original"] = {
            "width": width,
            "height": height,
            "size": f"{width}x{height}",
            "aspect": width / height,
        }
    focus = item.get("focalPoint")
    if (
        isinstance(focus, list)
        and len(focus) == 2
        and all(isinstance(f, int | float) and not isinstance(f, bool) for f in focus)
        and all(-1.0 <= f <= 1.0 for f in focus)
    ):
        meta["focus"] = {"x": float(focus[0]), "y": float(focus[1])}
    return meta


def _blurhash(value: Any) -> str | None:
    found = text(value, 100)
    return found if _BLURHASH.fullmatch(found) else None


def _dimension(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 100_000


# --- custom emoji ----------------------------------------------------------------------

_SHORTCODE_NAME = re.compile(r"^:?([A-Za-z0-9_]{2,64}):?$")
_EMOJI_TYPES = ("image/png", "image/gif", "image/webp")
MAX_EMOJI = 64


@dataclass(frozen=True)
class RemoteEmoji:
    """An `Emoji` tag: a shortcode of the sender's node and where its image is."""

    shortcode: str
    image_url: str
    uri: str | None
    updated: datetime | None


def _is_ip_literal(url: str) -> bool:
    """Whether a URL names its host by address (`127.0.0.1`, `[::1]`, `2130706433`)."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return True
    if host.isdigit():
        return True  # a number that resolvers read as an IPv4 address
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def emoji_tags(document: Any) -> tuple[RemoteEmoji, ...]:
    """The usable `Emoji` tags of a note or actor: a shortcode of 2 to 64 letters, digits or
    underscores, an image URL by host name (never an IP address) and of an image type, if
    any is declared. Anything else is dropped."""
    if not isinstance(document, dict):
        return ()
    found: dict[str, RemoteEmoji] = {}
    for tag in _tags(document, "Emoji"):
        name = _SHORTCODE_NAME.fullmatch(text(tag.get("name"), 70))
        icon = first(tag.get("icon"))
        if name is None or not isinstance(icon, dict):
            continue
        url = uri_of(icon.get("url"))
        media_type = text(icon.get("mediaType"), 64).lower()
        if url is None or _is_ip_literal(url) or (media_type and media_type not in _EMOJI_TYPES):
            continue
        found.setdefault(
            name.group(1),
            RemoteEmoji(name.group(1), url, uri_of(tag.get("id")), timestamp(tag.get("updated"))),
        )
        if len(found) >= MAX_EMOJI:
            break
    return tuple(found.values())
