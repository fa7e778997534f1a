"""Flag: another node reports one of our accounts (and some of its posts). It becomes a
report here, which this node's moderators see and are notified of; the reporter is the
sending actor (Mastodon sends its instance actor, so the person who reported stays unknown).

A Flag that names no account of this node, names too much, or carries an oversized comment
is dropped with its reason kept; one whose id was seen before changes nothing.
"""

from __future__ import annotations

from sqlalchemy import select

from inbox.dispatch import Incoming, handles
from inbox.parse import Unusable, first, markup_free, uri_of, uris
from inbox.targets import local_account, status_by_uri
from models.account import Account
from models.moderation import Report
from outbox import reports

MAX_OBJECTS = reports.STATUSES_MAX + 1


@handles("Flag")
async def flag(incoming: Incoming) -> None:
    session = incoming.session
    activity = incoming.activity
    named = uris(incoming.object)
    if not named:
        raise Unusable("the Flag names nothing")
    if len(named) > MAX_OBJECTS:
        raise Unusable(f"the Flag names more than {MAX_OBJECTS} objects")
    content = first(activity.get("content"))
    if content is not None and not isinstance(content, str):
        raise Unusable("the Flag's content is not text")
    comment = markup_free(content or "").strip()
    if len(comment) > reports.REMOTE_COMMENT_MAX:
        raise Unusable(f"the Flag's content is longer than {reports.REMOTE_COMMENT_MAX}")
    uri = uri_of(activity.get("id"))
    if uri is not None and await session.scalar(select(Report.id).where(Report.uri == uri)):
        return  # the same Flag again
    targets = [a for a in [await local_account(session, u) for u in named] if a is not None]
    statuses = [s for s in [await status_by_uri(session, u) for u in named] if s is not None]
    statuses = [s for s in statuses if s.local]
    if not targets and statuses:  # only posts named: the first one's author
        author = await _author(incoming, statuses[0].account_id)
        targets = [author] if author else []
    if not targets:
        raise Unusable("the Flag names no account of this node")
    target = targets[0]
    try:
        await reports.file_report(
            session,
            reporter=incoming.actor,
            target=target,
            status_ids=[s.id for s in statuses if s.account_id == target.id],
            category="other",
            comment=comment,
            uri=uri,
            comment_max=reports.REMOTE_COMMENT_MAX,
        )
    except reports.ReportError as exc:
        raise Unusable(str(exc)) from None


async def _author(incoming: Incoming, account_id: int) -> Account | None:
    account = await incoming.session.get(Account, account_id)
    return account if account is not None and account.suspended_at is None else None
