"""The compliance watch: terms kept by those with `manage_compliance`, posts scanned for them,
compliance reports for matches, and local posts held back from federating until released.

Each process keeps the compiled terms (outbox.watch_match.WatchList) and re-reads them at
most `REFRESH_SECONDS` after a change made in another process (the CLI, another web process:
the terms' version is one small query), and at once after a change made in the process itself.

A held post (a `hold` term matched) is stored, but it enters only its author's home feed,
notifies nobody and sends nothing to other nodes; models.visibility shows it to its author
alone (compliance officers read it on /admin/compliance and in the reports). Releasing it
does then what posting would have done: the feeds of followers and the mentioned, the
notifications, and the Create for other nodes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from federation.allowlist import Allowlist
from models import admin
from models import compliance as stored
from models.account import Account
from models.base import utcnow
from models.compliance import StatusHold, WatchTerm
from models.poll import Poll
from models.settings import Settings
from models.status import MediaAttachment, Mention, Status
from outbox import compliance_reports, federate, feeds, note_documents, render
from outbox.deliveries import enqueue
from outbox.notify import notify
from outbox.permissions import AdminError, Operator, require
from outbox.status_parts import notify_subscribers
from outbox.watch_match import InvalidTerm, Match, Term, WatchList, pattern_of

REFRESH_SECONDS = 2.0
MAX_LABEL_CHARS = 100
log = logging.getLogger("flurfunk.watch")


class UnknownTerm(AdminError):
    status = 404


class NotHeld(AdminError):
    status = 404


@dataclass
class _Cached:
    watch: WatchList
    version: object
    checked_at: float


# Per process and database (tests run several databases in one process).
_cache: dict[str, _Cached] = {}


def _key(session: AsyncSession) -> str:
    return str(session.get_bind().engine.url)


def forget(session: AsyncSession) -> None:
    """After a change of the terms in this process: the next post reads them again."""
    _cache.pop(_key(session), None)


async def current(session: AsyncSession) -> WatchList:
    """The compiled terms, as of at most REFRESH_SECONDS ago."""
    key = _key(session)
    cached = _cache.get(key)
    now = time.monotonic()
    if cached is not None and now - cached.checked_at < REFRESH_SECONDS:
        return cached.watch
    version = await stored.terms_version(session)
    if cached is None or cached.version != version:
        rows = await stored.terms(session)
        watch = WatchList.of(Term(r.id, r.term, r.label, r.regex, r.hold) for r in rows)
        cached = _Cached(watch, version, now)
    cached.checked_at = now
    _cache[key] = cached
    return cached.watch


# --- the terms ---------------------------------------------------------------------------


def _checked(term: str, label: str, is_regex: bool) -> tuple[str, str]:
    term, label = term.strip(), label.strip()
    if not label:
        raise AdminError("A watch term needs a label (what it watches for)")
    if len(label) > MAX_LABEL_CHARS:
        raise AdminError(f"The label is longer than {MAX_LABEL_CHARS} characters")
    try:
        pattern_of(term, is_regex)
    except (InvalidTerm, TimeoutError) as exc:
        raise AdminError(str(exc) or "The term is not usable") from None
    return term, label


def _describe(row: WatchTerm) -> str:
    kind = "regex" if row.regex else "word"
    return f"{row.label}: {row.term} ({kind}{', hold' if row.hold else ''})"


async def add_term(
    session: AsyncSession,
    operator: Operator,
    term: str,
    label: str,
    *,
    is_regex: bool = False,
    hold: bool = False,
) -> WatchTerm:
    require(operator, "manage_compliance")
    term, label = _checked(term, label, is_regex)
    row = WatchTerm(term=term, label=label, regex=is_regex, hold=hold, created_by=operator.name)
    session.add(row)
    await session.flush()
    _audit(session, operator, "watch.add", str(row.id), _describe(row))
    forget(session)
    return row


async def find_term(session: AsyncSession, term_id: int) -> WatchTerm:
    row = await session.get(WatchTerm, term_id)
    if row is None:
        raise UnknownTerm(f"no watch term {term_id}")
    return row


async def change_term(
    session: AsyncSession,
    operator: Operator,
    term_id: int,
    *,
    term: str | None = None,
    label: str | None = None,
    is_regex: bool | None = None,
    hold: bool | None = None,
) -> tuple[WatchTerm, bool]:
    """Change what is given; returns the term and whether anything changed."""
    require(operator, "manage_compliance")
    row = await find_term(session, term_id)
    new_regex = row.regex if is_regex is None else is_regex
    new_term, new_label = _checked(
        row.term if term is None else term, row.label if label is None else label, new_regex
    )
    new_hold = row.hold if hold is None else hold
    if (new_term, new_label, new_regex, new_hold) == (row.term, row.label, row.regex, row.hold):
        return row, False
    row.term, row.label, row.regex, row.hold = new_term, new_label, new_regex, new_hold
    row.updated_at = utcnow()
    await session.flush()
    _audit(session, operator, "watch.change", str(row.id), _describe(row))
    forget(session)
    return row, True


async def remove_term(session: AsyncSession, operator: Operator, term_id: int) -> WatchTerm:
    require(operator, "manage_compliance")
    row = await find_term(session, term_id)
    await session.delete(row)
    await session.flush()
    _audit(session, operator, "watch.remove", str(term_id), _describe(row))
    forget(session)
    return row


def _audit(session: AsyncSession, operator: Operator, action: str, target: str, text: str) -> None:
    admin.record(
        session, operator.name, action, target, text, operator_account_id=operator.account_id
    )


# --- scanning posts ----------------------------------------------------------------------


async def _texts(session: AsyncSession, status: Status) -> list[str]:
    """What a local post says: text, content warning, poll options, media descriptions."""
    texts = [status.spoiler_text or "", status.text or ""]
    poll = await session.scalar(select(Poll).where(Poll.status_id == status.id))
    if poll is not None:
        texts += [str(option) for option in poll.options]
    descriptions = await session.scalars(
        select(MediaAttachment.description).where(MediaAttachment.status_id == status.id)
    )
    texts += [d for d in descriptions if d]
    return texts


async def watch_local(
    session: AsyncSession, status: Status, *, may_hold: bool = True
) -> list[Match]:
    """Scan a local post (flushed, with its poll and media): report each match, and hold a
    new post back if a `hold` term matched (`may_hold`: an edit of a post that went out
    already is only reported). Returns the matches."""
    watch = await current(session)
    if not watch:
        return []
    matches = watch.scan(*await _texts(session, status))
    if not matches:
        return []
    if may_hold and any(m.hold for m in matches) and not status.held:
        status.held = True
        labels = ", ".join(dict.fromkeys(m.label for m in matches if m.hold))
        session.add(StatusHold(status_id=status.id, labels=labels))
    await session.flush()
    await compliance_reports.file(session, status, matches)
    return matches


async def watch_remote(session: AsyncSession, status: Status, plain_text: str) -> list[Match]:
    """Scan a post that arrived from another node (never held: it is out already)."""
    watch = await current(session)
    if not watch:
        return []
    matches = watch.scan(status.spoiler_text, plain_text)
    if matches:
        await compliance_reports.file(session, status, matches)
    return matches


# --- holds -------------------------------------------------------------------------------


async def release(
    session: AsyncSession,
    operator: Operator,
    status_id: int,
    settings: Settings,
    allowlist: Allowlist,
) -> Status:
    """Let a held post go: feeds, notifications and deliveries as if it were posted now (the
    CLI has no running federation, so the Create is queued here with the given allowlist)."""
    require(operator, "manage_compliance")
    status = await session.get(Status, status_id, with_for_update=True)
    hold = await session.get(StatusHold, status_id)
    if status is None or not status.held:
        raise NotHeld(f"status {status_id} is not held")
    author = await session.get(Account, status.account_id)
    assert author is not None
    status.held = False
    labels = hold.labels if hold is not None else ""
    await session.execute(delete(StatusHold).where(StatusHold.status_id == status_id))
    await session.flush()
    mentioned = await session.scalars(
        select(Account)
        .join(Mention, Mention.account_id == Account.id)
        .where(Mention.status_id == status.id)
    )
    for account in list(mentioned):
        await notify(
            session, recipient=account, actor_id=author.id, type="mention", status_id=status.id
        )
    await feeds.fan_out(session, status, audience="others")
    await notify_subscribers(session, status)
    if status.visibility in federate.FEDERATED:
        inboxes = await federate.status_audience(session, status)
        if inboxes:
            note = await note_documents.note_document(session, settings, status)
            await enqueue(
                session,
                allowlist,
                actor=author,
                activity=render.create(note),
                inboxes=inboxes,
                status_id=status.id,
            )
    _audit(session, operator, "watch.release", str(status_id), labels)
    return status


async def held(session: AsyncSession, limit: int = 200) -> list[tuple[StatusHold, Status]]:
    """The posts held now, newest first."""
    rows = await session.execute(
        select(StatusHold, Status)
        .join(Status, Status.id == StatusHold.status_id)
        .order_by(StatusHold.status_id.desc())
        .limit(limit)
    )
    return [(h, s) for h, s in rows.tuples()]
