"""How API entities read on a page: Jinja filters the templates share.

Templates get the JSON the client API answers (web.ui.calls); these filters turn its fields
into what a reader sees: local page addresses, short times, clean HTML.
"""

from __future__ import annotations

import functools
import html as html_text
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape

from outbox.content import sanitise


def profile_path(account: Mapping[str, Any]) -> str:
    """The page of an account on this node: `/@name`, or `/@name@host` for a remote one."""
    return f"/@{account['acct']}"


def status_path(status: Mapping[str, Any]) -> str:
    return f"/@{status['account']['acct']}/{status['id']}"


@functools.lru_cache(maxsize=4096)
def _sanitised(html: str) -> str:
    return sanitise(html)


def clean(html: object) -> Markup:
    """Status and bio HTML, once more through the allowlist right before it is shown: what
    the API hands out is already clean, and a page must not trust that alone. (Cached: a
    timeline shows the same bodies again and again, and the allowlist costs ~0.1 ms each.)"""
    return Markup(_sanitised(str(html or "")))


# A link whose text is its own address, after sanitising (a remote Mastodon's invisible and
# ellipsis spans are gone by then, their text is not). Mentions and hashtags carry a class.
BARE_LINK = re.compile(r'<a href="([^"]+)"([^>]*)>(.*?)</a>', re.DOTALL)
TAG = re.compile(r"<[^>]+>")
SCHEME = re.compile(r"(https?://(?:www\.)?)(.*)", re.DOTALL)
SHOWN_URL = 30  # characters of an address shown after its scheme, as Mastodon shows them


def _short_link(match: re.Match[str]) -> str:
    href, attributes, inner = match.groups()
    url = html_text.unescape(href)
    parts = SCHEME.fullmatch(url)
    if "class=" in attributes or parts is None:
        return match.group(0)
    if html_text.unescape(TAG.sub("", inner)) != url:
        return match.group(0)
    prefix, rest = parts.groups()
    shown, hidden = rest[:SHOWN_URL], rest[SHOWN_URL:]
    escape = functools.partial(html_text.escape, quote=False)
    cut = ' class="ellipsis"' if hidden else ""
    return (
        f'<a href="{href}"{attributes}><span class="invisible">{escape(prefix)}</span>'
        f"<span{cut}>{escape(shown)}</span>"
        + (f'<span class="invisible">{escape(hidden)}</span>' if hidden else "")
        + "</a>"
    )


def short_links(html: str) -> str:
    """Long addresses shortened as Mastodon shows them: no scheme, the first 30 characters
    and an ellipsis. The whole address stays in the text (hidden by the style sheet), so it
    is what a screen reader reads and what is copied."""
    return BARE_LINK.sub(_short_link, html)


@functools.lru_cache(maxsize=4096)
def _body(content: str, mentions: tuple[tuple[str, str], ...], base: str) -> str:
    html = short_links(_sanitised(content))
    for url, acct in mentions:
        html = html.replace(f'href="{url}"', f'href="/@{acct}"')
    if base:
        html = html.replace(f'href="{base}/', 'href="/')
    return html


@pass_context
def status_html(context: Context, status: Mapping[str, Any]) -> Markup:
    """A status body, clean, with its mentions linking to the profile pages here (a remote
    colleague's mention would otherwise lead to their node's own page) and long links
    shortened. (Cached, as `clean`: a timeline shows the same bodies again and again.)"""
    mentions = tuple(
        (str(m.get("url") or ""), str(m["acct"]))
        for m in status.get("mentions") or ()
        if m.get("url")
    )
    base = str(context.get("public_url", "")).rstrip("/")
    body = _body(str(status.get("content") or ""), mentions, base)
    return Markup(_emojify_html(body, _emoji_paths(base, status.get("emojis"))))


# --- custom emoji ----------------------------------------------------------------------------

# A tag, with quoted attribute values that may hold `>`; everything between tags is text.
_TAG = re.compile(r"""(<(?:[^>"']|"[^"]*"|'[^']*')*>)""")
_SHORTCODE = re.compile(r"(?<![A-Za-z0-9_]):([A-Za-z0-9_]{2,64}):(?![A-Za-z0-9_])")


def _emoji_paths(base: str, emojis: object) -> dict[str, str]:
    """Shortcode -> the image's path on this node; an emoji anywhere else is not shown."""
    found: dict[str, str] = {}
    for emoji in emojis if isinstance(emojis, Iterable) else ():
        if not isinstance(emoji, Mapping):
            continue
        code, url = str(emoji.get("shortcode", "")), str(emoji.get("url", ""))
        if base and url.startswith(base + "/") and _SHORTCODE.fullmatch(f":{code}:"):
            found[code] = url[len(base) :]
    return found


def _emoji_img(paths: Mapping[str, str], match: re.Match[str]) -> str:
    path = paths.get(match.group(1))
    if path is None:
        return match.group(0)
    code = escape(match.group(0))
    return (
        f'<img class="emoji" src="{escape(path)}" alt="{code}" title="{code}" '
        'width="20" height="20" loading="lazy">'
    )


def _emojify_html(html: str, paths: Mapping[str, str]) -> str:
    """`:code:` in the text of clean HTML (never inside a tag) -> the emoji's image."""
    if not paths:
        return html
    parts = _TAG.split(html)
    for i in range(0, len(parts), 2):  # even parts are text between tags
        parts[i] = _SHORTCODE.sub(functools.partial(_emoji_img, paths), parts[i])
    return "".join(parts)


@pass_context
def emojify(context: Context, text: object, emojis: object) -> Markup:
    """Plain text (a name, a content warning, a poll option) with its custom emoji."""
    base = str(context.get("public_url", "")).rstrip("/")
    html = str(escape(str(text or "")))
    return Markup(_emojify_html(html, _emoji_paths(base, emojis)))


@pass_context
def here(context: Context, url: object) -> str:
    """A URL of this node as a path, so that pages work under any name the node is reached
    by (a proxy, a test's loopback port); other nodes' URLs stay as they are."""
    text = str(url or "")
    base = str(context.get("public_url", "")).rstrip("/")
    if base and text.startswith(base + "/"):
        return text[len(base) :]
    return text


@functools.lru_cache(maxsize=4096)
def _short_time(iso: str) -> str:
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    return moment.strftime("%Y-%m-%d %H:%M")


def short_time(iso: object) -> str:
    if not isinstance(iso, str) or not iso:
        return ""
    return _short_time(iso)


@pass_context
def emoji_html(context: Context, html: Markup, emojis: object) -> Markup:
    """Clean HTML (from `clean`) with its custom emoji as images."""
    base = str(context.get("public_url", "")).rstrip("/")
    return Markup(_emojify_html(str(html), _emoji_paths(base, emojis)))


def plain_name(account: Mapping[str, Any]) -> str:
    """The name as text, for where no image can be (a page title)."""
    return str(account.get("display_name") or account.get("username") or "")


@pass_context
def display_name(context: Context, account: Mapping[str, Any]) -> Markup:
    """The name people chose, escaped, with the custom emoji it names."""
    name = str(account.get("display_name") or account.get("username") or "")
    return emojify(context, name, account.get("emojis"))


def file_size(size: object) -> str:
    """Bytes as people read them: 840 KB, 3.2 MB."""
    number = size if isinstance(size, int) else 0
    if number >= 1 << 20:
        return f"{number / (1 << 20):.1f} MB"
    return f"{max(1, round(number / 1024))} KB"


FILTERS: dict[str, Callable[..., Any]] = {
    "file_size": file_size,
    "profile_path": profile_path,
    "status_path": status_path,
    "clean": clean,
    "status_html": status_html,
    "here": here,
    "short_time": short_time,
    "display_name": display_name,
    "emojify": emojify,
    "emoji_html": emoji_html,
    "plain_name": plain_name,
}
