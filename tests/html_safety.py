"""What an app may do with a field of the client API without harm, checked with the standard
library's HTML parser (independent of the sanitiser under test)."""

from __future__ import annotations

import html
from html.parser import HTMLParser
from urllib.parse import urlsplit

# What an app may render: the status allowlist's tags, links to http(s) and mailto only.
SAFE_TAGS = {
    "p", "br", "span", "a", "del", "s", "pre", "blockquote", "code", "b", "strong", "u", "i",
    "em", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
}  # fmt: skip
SAFE_ATTRIBUTES = {"href", "rel", "class", "target", "start"}
SAFE_SCHEMES = {"http", "https", "mailto"}

Element = tuple[str, list[tuple[str, str | None]]]


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[Element] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


def elements(fragment: str) -> list[Element]:
    parser = _Elements()
    parser.feed(fragment)
    parser.close()
    return parser.found


def harmless_html_problem(fragment: str) -> str | None:
    """Why an app should not render `fragment` as HTML; None when it may."""
    for tag, attrs in elements(fragment):
        if tag not in SAFE_TAGS:
            return f"<{tag}>"
        for name, value in attrs:
            if name not in SAFE_ATTRIBUTES:
                return f"{name}= on <{tag}>"
            if name == "href" and urlsplit(value or "").scheme.lower() not in SAFE_SCHEMES:
                return f"href={value!r}"
    return None


def assert_harmless_html(fragment: str, where: str) -> None:
    """HTML an app may render as it is: allowed tags, no handlers, no unsafe link schemes."""
    problem = harmless_html_problem(fragment)
    assert problem is None, f"{where}: {problem} in {fragment!r}"


def assert_plain(text: str, where: str) -> None:
    """Text without markup, also once an app decodes its entities (some render it as HTML)."""
    for candidate in (text, html.unescape(text)):
        assert not elements(candidate), f"{where}: markup in {text!r}"
