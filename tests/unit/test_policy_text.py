"""What the usage policy's Markdown becomes: clean HTML for its page, and the node's rules."""

from __future__ import annotations

from outbox.policy import policy_html, policy_rules
from tests.html_safety import assert_harmless_html, elements

HOSTILE = """# Policy

<script>alert(1)</script>
<img src=x onerror=alert(1)>

- [a link](javascript:alert(1)) and [another](JAVASCRIPT:alert(2))
- <a href="javascript:alert(3)">raw</a>
"""


def test_hostile_markdown_leaves_no_script_handler_or_javascript_link() -> None:
    html = policy_html(HOSTILE)
    assert_harmless_html(html, "policy page")
    assert [tag for tag, _ in elements(html) if tag in ("script", "img", "a")] == []
    assert "<h2>Policy</h2>" in html  # the page's own title stays its only h1


def test_safe_links_and_emphasis_are_kept() -> None:
    html = policy_html("See the [intranet](https://intranet.example/rules) — **really**.")
    assert '<a href="https://intranet.example/rules">intranet</a>' in html
    assert "<strong>really</strong>" in html


def test_each_top_level_list_item_is_one_rule() -> None:
    text = """Intro paragraph.

- Be **kind**
  to colleagues.
  - a nested detail
- Use `#tags`.

1. Numbered lists count too.

Closing words.
"""
    assert policy_rules(text) == [
        "Be kind to colleagues.",
        "Use #tags.",
        "Numbered lists count too.",
    ]


def test_a_policy_without_a_list_has_no_rules() -> None:
    assert policy_rules("Just prose.\n\n## And a heading") == []
