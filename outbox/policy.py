"""Publishing and accepting the usage policy, and what its Markdown becomes: safe HTML for
the policy page, and one rule per top-level list item for /api/v1/instance/rules."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from models import admin
from models import policy as stored
from models.policy import PolicyVersion
from outbox.content import sanitise
from outbox.permissions import require
from outbox.spreadsheet_csv import csv_text
from outbox.user_admin import AdminError, Operator

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

MAX_POLICY_CHARS = 100_000


class WrongVersion(AdminError):
    """Accepting a version that is not the current one (an old page, a typo)."""


@functools.cache
def _markdown() -> MarkdownIt:
    from markdown_it import MarkdownIt

    # Raw HTML stays text and nh3 cleans what is left: the policy page is shown to everyone.
    return MarkdownIt("commonmark", {"html": False}).enable("strikethrough").disable("image")


def policy_html(text: str) -> str:
    """Clean HTML for the policy page, its headings one level down: the page's own title is
    its only h1."""
    md = _markdown()
    tokens = md.parse(text)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + 1, 6)}"
    rendered: str = md.renderer.render(tokens, md.options, {})
    return sanitise(rendered)


def _plain(inline: Token) -> str:
    parts = []
    for child in inline.children or ():
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return "".join(parts).strip()


def policy_rules(text: str) -> list[str]:
    """Each top-level list item's first paragraph, as plain text, in order."""
    rules: list[str] = []
    lists_open = 0
    wants_text = False
    for token in _markdown().parse(text):
        if token.type in ("bullet_list_open", "ordered_list_open"):
            lists_open += 1
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            lists_open -= 1
        elif token.type == "list_item_open" and lists_open == 1:
            wants_text = True
        elif token.type == "inline" and wants_text:
            wants_text = False
            if rule := _plain(token):
                rules.append(rule)
    return rules


async def publish(session: AsyncSession, operator: Operator, text: str) -> PolicyVersion:
    """A new version: everyone (admins too) is asked to accept it before writing again."""
    require(operator, "manage_policy")
    text = text.strip()
    if not text:
        raise AdminError("The policy text is empty")
    if len(text) > MAX_POLICY_CHARS:
        raise AdminError(f"The policy text is longer than {MAX_POLICY_CHARS} characters")
    version = await stored.publish(session, text, operator.name)
    admin.record(
        session,
        operator.name,
        "policy.publish",
        f"version {version.version}",
        operator_account_id=operator.account_id,
    )
    return version


async def accept(session: AsyncSession, account_id: int, version: int) -> PolicyVersion:
    current = await stored.current(session)
    if current is None:
        raise WrongVersion("This node has no usage policy")
    if version != current.version:
        raise WrongVersion(f"Version {version} is not the current policy ({current.version})")
    await stored.accept(session, account_id, version)
    return current


def acceptances_csv(people: list[stored.Acceptance], version: int) -> str:
    """One row per person: those who have not accepted first."""
    header = ["username", "email", "role", "version", "accepted", "accepted_at"]
    rows = []
    for p in people:
        at = p.accepted_at.isoformat(timespec="seconds") if p.accepted_at else ""
        rows.append([p.username, p.email, p.role, version, "yes" if at else "no", at])
    return csv_text(header, rows)
