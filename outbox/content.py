"""Status text -> safe HTML, the way Mastodon renders it.

Plain text is escaped and split into paragraphs (blank lines) and lines (`<br>`); http(s) URLs,
@mentions of known accounts and #hashtags become links. Markdown (`text/markdown`) goes through
markdown-it-py with raw HTML disabled, and the same linking runs on its text outside code and
links. Whatever comes out passes one nh3 allowlist, so no script, style, event handler or
unsafe link scheme survives, whoever wrote the input.

Mentions are resolved by the caller: `mentioned_handles` lists what the text names, the caller
looks the accounts up (locally now; a resolver for remote handles can join later) and passes
the result to `render`. Handles it could not resolve stay plain text.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

import nh3

from federation import values

if TYPE_CHECKING:  # markdown-it is loaded with the first Markdown post: most nodes see none
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

PLAIN = "text/plain"
MARKDOWN = "text/markdown"
CONTENT_TYPES = (PLAIN, MARKDOWN)
URL_WEIGHT = 23  # every link counts this many characters, however long (as on Mastodon)
MAX_TAG_LENGTH = 255
LINK_REL = "nofollow noopener noreferrer"

URL_RE = re.compile(r"(?<![\w@/.:-])https?://[^\s<>\"'`\x00-\x1f\u200b]+", re.IGNORECASE)
MENTION_RE = re.compile(
    r"(?<![\w/@])@([a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?)(?:@([\w.-]*\w(?::\d{1,5})?))?",
    re.IGNORECASE,
)
HASHTAG_RE = re.compile(r"(?<![\w=/)#&@])#(\w*[^\W\d_]\w*)")
_TRAILING_PUNCTUATION = ".,:;!?'\"*"
_BRACKETS = {")": "(", "]": "[", "}": "{"}

ALLOWED_TAGS = {
    "p", "br", "span", "a", "del", "s", "pre", "blockquote", "code", "b", "strong", "u", "i",
    "em", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
}  # fmt: skip
ALLOWED_VALUES = {
    "a": {
        "class": {"u-url mention", "mention hashtag"},
        "rel": {LINK_REL, "tag"},
        "target": {"_blank"},
    },
    "span": {"class": {"h-card"}},
}


@dataclass(frozen=True)
class Handle:
    """`@name` or `@name@domain`, lower-cased; domain None means this node."""

    username: str
    domain: str | None = None


@dataclass(frozen=True)
class MentionTarget:
    """A resolved mention: the account it links to."""

    account_id: int
    username: str
    url: str


@dataclass(frozen=True)
class Rendered:
    html: str
    mentions: list[MentionTarget] = field(default_factory=list)  # in order, each once
    tags: list[str] = field(default_factory=list)  # lower case, in order, each once


def _trim_url(url: str) -> str:
    """Drop punctuation that ends a sentence rather than the URL; keep balanced brackets."""
    while url:
        last = url[-1]
        unbalanced = last in _BRACKETS and url.count(_BRACKETS[last]) < url.count(last)
        if last not in _TRAILING_PUNCTUATION and not unbalanced:
            break
        url = url[:-1]
    return url


def _url_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for match in URL_RE.finditer(text):
        url = _trim_url(match.group(0))
        try:
            values.http_url(url)
        except values.InvalidValue:
            continue  # `http://[::1` and the like stay text: no link to nowhere
        spans.append((match.start(), match.start() + len(url)))
    return spans


def _outside(spans: list[tuple[int, int]], start: int) -> bool:
    return not any(a <= start < b for a, b in spans)


def _normal_domain(domain: str | None, local_domain: str) -> str | None:
    if domain is None or domain.lower() == local_domain.lower():
        return None
    return domain.lower()


def mentioned_handles(text: str, local_domain: str) -> list[Handle]:
    """Every handle the text names (outside URLs), each once, in order."""
    urls = _url_spans(text)
    seen: dict[Handle, None] = {}
    for match in MENTION_RE.finditer(text):
        if _outside(urls, match.start()):
            handle = Handle(match.group(1).lower(), _normal_domain(match.group(2), local_domain))
            seen.setdefault(handle, None)
    return list(seen)


def countable_length(text: str) -> int:
    """Length as Mastodon counts it: a URL weighs 23, `@name@domain` only `@name`."""
    urls = _url_spans(text)
    length = len(text) - sum(b - a for a, b in urls) + URL_WEIGHT * len(urls)
    for match in MENTION_RE.finditer(text):
        if match.group(2) and _outside(urls, match.start()):
            length -= len(match.group(2)) + 1
    return length


class _Linker:
    """Turns one run of text into HTML with links, collecting mentions and tags."""

    def __init__(self, public_url: str, mentions: Mapping[Handle, MentionTarget]) -> None:
        self.base = public_url.rstrip("/")
        self.local_domain = urlsplit(public_url).netloc
        self.known = mentions
        self.mentions: dict[int, MentionTarget] = {}
        self.tags: dict[str, None] = {}

    def __call__(self, text: str) -> str:
        urls = _url_spans(text)
        pieces: list[tuple[int, int, str]] = [(a, b, self._url(text[a:b])) for a, b in urls]
        for match in MENTION_RE.finditer(text):
            if _outside(urls, match.start()):
                link = self._mention(match)
                if link is not None:
                    pieces.append((match.start(), match.end(), link))
        for match in HASHTAG_RE.finditer(text):
            if _outside(urls, match.start()) and len(match.group(1)) <= MAX_TAG_LENGTH:
                pieces.append((match.start(), match.end(), self._hashtag(match.group(1))))
        out: list[str] = []
        position = 0
        for start, end, link in sorted(pieces):
            if start < position:
                continue  # overlapping matches: the first one wins
            out.append(html.escape(text[position:start], quote=False))
            out.append(link)
            position = end
        out.append(html.escape(text[position:], quote=False))
        return "".join(out)

    def _url(self, url: str) -> str:
        href = html.escape(url, quote=True)
        return (
            f'<a href="{href}" rel="{LINK_REL}" target="_blank">{html.escape(url, quote=False)}</a>'
        )

    def _mention(self, match: re.Match[str]) -> str | None:
        handle = Handle(match.group(1).lower(), _normal_domain(match.group(2), self.local_domain))
        target = self.known.get(handle)
        if target is None:
            return None
        self.mentions.setdefault(target.account_id, target)
        return (
            f'<span class="h-card"><a href="{html.escape(target.url, quote=True)}" '
            f'class="u-url mention">@<span>{html.escape(target.username)}</span></a></span>'
        )

    def _hashtag(self, name: str) -> str:
        self.tags.setdefault(name.lower(), None)
        href = html.escape(f"{self.base}/tags/{quote(name.lower())}", quote=True)
        return (
            f'<a href="{href}" class="mention hashtag" rel="tag">'
            f"#<span>{html.escape(name)}</span></a>"
        )


def _plain_html(text: str, link: _Linker) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        return ""
    paragraphs = re.split(r"\n[ \t]*\n\s*", text)
    return "".join(
        "<p>" + "<br>".join(link(line) for line in paragraph.split("\n")) + "</p>"
        for paragraph in paragraphs
    )


@functools.cache
def _markdown() -> MarkdownIt:
    from markdown_it import MarkdownIt

    # No raw HTML and no images: a post links to pictures, it does not embed them.
    return (
        MarkdownIt("commonmark", {"html": False, "breaks": True})
        .enable("strikethrough")
        .disable("image")
    )


def _link_inline(children: Iterable[Token], link: _Linker) -> list[Token]:
    from markdown_it.token import Token

    out: list[Token] = []
    inside_link = 0
    for token in children:
        if token.type == "link_open":
            inside_link += 1
            token.attrSet("rel", LINK_REL)
            token.attrSet("target", "_blank")
        elif token.type == "link_close":
            inside_link -= 1
        elif token.type == "text" and not inside_link:
            token = Token("html_inline", "", 0, content=link(token.content))
        out.append(token)
    return out


def _markdown_html(text: str, link: _Linker) -> str:
    md = _markdown()
    tokens = md.parse(text)
    for token in tokens:
        if token.type == "inline" and token.children:
            token.children = _link_inline(token.children, link)
    rendered: str = md.renderer.render(tokens, md.options, {})
    return rendered.strip()


def sanitise(fragment: str) -> str:
    """The allowlist every status body passes: Mastodon's tags, safe links, no scripts."""
    return nh3.clean(
        fragment,
        tags=ALLOWED_TAGS,
        clean_content_tags={"script", "style"},
        attributes={"a": {"href"}, "ol": {"start"}},
        tag_attribute_values=ALLOWED_VALUES,
        link_rel=None,
        url_schemes={"http", "https", "mailto"},
        strip_comments=True,
    )


def render(
    text: str,
    *,
    public_url: str,
    content_type: str = PLAIN,
    mentions: Mapping[Handle, MentionTarget] | None = None,
) -> Rendered:
    """Render a status body; `mentions` holds the handles the caller could resolve."""
    link = _Linker(public_url, mentions or {})
    body = _markdown_html(text, link) if content_type == MARKDOWN else _plain_html(text, link)
    return Rendered(sanitise(body), list(link.mentions.values()), list(link.tags))
