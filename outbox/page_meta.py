"""What a web page says about itself: OpenGraph and Twitter-card metadata, the plain HTML
title and description, its oEmbed link; and what an oEmbed answer says.

Pages are parsed with lxml (libxml2's HTML parser): maintained for two decades, fast on the
megabyte a page may have here, tolerant of broken markup, already a dependency of the test
tools. Everything read is untrusted: texts lose every tag and are cut to length, URLs must be
absolute http(s) after resolving against the page, and oEmbed HTML is never passed on as sent
— only one iframe, rebuilt here from its checked `src`, may come out of it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

import nh3

from federation.values import InvalidValue, http_url, iso_datetime

MAX_PAGE = 1 << 20  # bytes of HTML read at most
MAX_OEMBED = 64 << 10
MAX_TITLE = 300
MAX_DESCRIPTION = 1000
MAX_NAME = 200
MAX_URL = 2048
_SPACE = re.compile(r"\s+")
_AMBIGUOUS = re.compile(r"[\\\x00-\x20\x7f]")
OEMBED_TYPES = ("application/json+oembed", "text/json+oembed")


@dataclass(frozen=True)
class PageMeta:
    url: str = ""
    title: str = ""
    description: str = ""
    type: str = "link"  # link, photo, video, rich (Mastodon's card types)
    author_name: str = ""
    author_url: str = ""
    provider_name: str = ""
    provider_url: str = ""
    html: str = ""
    width: int = 0
    height: int = 0
    image: str | None = None
    image_description: str = ""
    embed_url: str = ""
    published_at: datetime | None = None
    oembed: str | None = field(default=None, compare=False)


def plain(value: object, limit: int) -> str:
    """Text with every tag (and a script's or style's content) gone, entities decoded until
    nothing can hide behind one, whitespace collapsed, cut to `limit` characters."""
    if not isinstance(value, str):
        return ""
    text = value[: limit * 4]
    for _ in range(3):
        cleaned = html.unescape(nh3.clean(text, tags=set()))
        if cleaned == text:
            break
        text = cleaned
    text = _SPACE.sub(" ", text).strip()
    return text.replace("<", "").replace(">", "")[:limit]


def absolute_url(value: object, base: str) -> str | None:
    """An absolute http(s) URL (resolved against `base`), or None."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        url = urljoin(base, value.strip())
        http_url(url)
    except (InvalidValue, ValueError):
        return None
    if len(url) > MAX_URL or _AMBIGUOUS.search(url):
        return None
    return url


def _size(value: object) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        return 0
    return number if 0 < number <= 10_000 else 0


def read_page(body: bytes, page_url: str) -> PageMeta:
    """The metadata of an HTML page fetched from `page_url` (the URL after redirects)."""
    import lxml.html
    from lxml import etree

    try:
        document = lxml.html.document_fromstring(body[:MAX_PAGE])
    except (etree.ParserError, ValueError):
        return PageMeta(url=page_url)
    meta: dict[str, str] = {}
    for element in document.iter("meta"):
        name = (element.get("property") or element.get("name") or "").strip().lower()
        content = element.get("content")
        if name and content is not None and name not in meta:
            meta[name] = content
    oembed = None
    for element in document.iter("link"):
        rel = (element.get("rel") or "").lower().split()
        if "alternate" in rel and (element.get("type") or "").lower() in OEMBED_TYPES:
            oembed = absolute_url(element.get("href"), page_url)
            break
    titles = document.findall(".//title")
    title = (
        meta.get("og:title")
        or meta.get("twitter:title")
        or (titles[0].text_content() if titles else "")
    )
    description = (
        meta.get("og:description")
        or meta.get("twitter:description")
        or meta.get("description")
        or ""
    )
    image = absolute_url(
        meta.get("og:image") or meta.get("og:image:url") or meta.get("twitter:image"), page_url
    )
    published = None
    if meta.get("article:published_time"):
        try:
            published = iso_datetime(meta["article:published_time"], clamp=True)
        except InvalidValue:
            published = None
    return PageMeta(
        url=absolute_url(meta.get("og:url"), page_url) or page_url,
        title=plain(title, MAX_TITLE),
        description=plain(description, MAX_DESCRIPTION),
        type="video" if meta.get("og:type", "").startswith("video") else "link",
        author_name=plain(meta.get("author") or meta.get("article:author"), MAX_NAME),
        provider_name=plain(meta.get("og:site_name"), MAX_NAME),
        image=image,
        image_description=plain(meta.get("og:image:alt") or meta.get("twitter:image:alt"), 1500),
        width=_size(meta.get("og:image:width")) if image else 0,
        height=_size(meta.get("og:image:height")) if image else 0,
        published_at=published,
        oembed=oembed,
    )


def with_oembed(page: PageMeta, answer: Any, allowed: Callable[[str], bool]) -> PageMeta:
    """`page` completed by an oEmbed answer; its HTML survives only as one iframe whose source
    `allowed` admits, rebuilt here."""
    if not isinstance(answer, dict):
        return page
    base = page.url
    kind = str(answer.get("type")) if answer.get("type") in ("photo", "video", "rich") else "link"
    embed = _iframe(answer.get("html"), allowed) if kind in ("video", "rich") else None
    width, height = _size(answer.get("width")), _size(answer.get("height"))
    image = page.image
    if kind == "photo":
        image = absolute_url(answer.get("url"), base) or image
    image = image or absolute_url(answer.get("thumbnail_url"), base)
    return replace(
        page,
        type=kind if kind == "photo" or embed else "link",
        title=plain(answer.get("title"), MAX_TITLE) or page.title,
        author_name=plain(answer.get("author_name"), MAX_NAME) or page.author_name,
        author_url=absolute_url(answer.get("author_url"), base) or page.author_url,
        provider_name=plain(answer.get("provider_name"), MAX_NAME) or page.provider_name,
        provider_url=absolute_url(answer.get("provider_url"), base) or page.provider_url,
        html=embed or "",
        width=width if embed or kind == "photo" else page.width,
        height=height if embed or kind == "photo" else page.height,
        image=image,
    )


def _iframe(markup: object, allowed: Callable[[str], bool]) -> str | None:
    if not isinstance(markup, str) or not markup.strip() or len(markup) > MAX_OEMBED:
        return None
    import lxml.html
    from lxml import etree

    try:
        fragment = lxml.html.fragment_fromstring(markup, create_parent="div")
    except (etree.ParserError, ValueError):
        return None
    frame = next(fragment.iter("iframe"), None)
    if frame is None:
        return None
    source = absolute_url(frame.get("src"), "https://invalid.invalid/")
    if source is None or source.startswith("https://invalid.invalid/") or not allowed(source):
        return None
    width, height = _size(frame.get("width")) or 480, _size(frame.get("height")) or 270
    return (
        f'<iframe src="{html.escape(source, quote=True)}" width="{width}" height="{height}" '
        'sandbox="allow-scripts allow-same-origin allow-popups allow-presentation" '
        'allowfullscreen="true" frameborder="0"></iframe>'
    )


def first_link(content_html: str) -> str | None:
    """The first link of a post's HTML that is no mention or hashtag."""
    if "<a" not in content_html:
        return None
    import lxml.html
    from lxml import etree

    try:
        fragment = lxml.html.fragment_fromstring(content_html, create_parent="div")
    except (etree.ParserError, ValueError):
        return None
    for anchor in fragment.iter("a"):
        classes = (anchor.get("class") or "").split()
        if "mention" in classes or "hashtag" in classes or anchor.get("rel") == "tag":
            continue
        url = absolute_url(anchor.get("href"), "https://invalid.invalid/")
        if url and not url.startswith("https://invalid.invalid/"):
            return url
    return None
