"""A watch-term match becomes a compliance report: an admin report from the node itself
(outbox.reports.file_report, reporter None) with category `legal`, each matching term's label
and matched text in its comment, and the post attached. The author is not told."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from models.account import Account
from models.status import Status
from outbox.reports import COMMENT_MAX, file_report
from outbox.watch_match import Match


def comment_for(matches: Sequence[Match], held: bool = False) -> str:
    """`Watch term "LABEL" matched: "TEXT"`, one line per term, at most COMMENT_MAX long."""
    lines = []
    for m in matches:
        if m.timed_out:
            lines.append(f'Watch term "{m.label}": time limit reached, please review')
        else:
            lines.append(f'Watch term "{m.label}" matched: "{m.text}"')
    if held:
        lines.append("The post is held back until a compliance officer releases it.")
    text = "\n".join(lines)
    return text if len(text) <= COMMENT_MAX else text[: COMMENT_MAX - 1] + "…"


async def file(session: AsyncSession, status: Status, matches: Sequence[Match]) -> None:
    author = await session.get(Account, status.account_id)
    assert author is not None
    await file_report(
        session,
        reporter=None,
        target=author,
        status_ids=[status.id],
        category="legal",
        comment=comment_for(matches, status.held),
    )
