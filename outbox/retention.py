"""Retention: the node's rules (posts of a visibility older than N days go) and the sweep
that applies them.

One rule per visibility (`public`, `unlisted`, `private`, `direct`) and `all` for every
visibility without its own (so also `local` posts and posts in members-only groups). The
sweep deletes posts a batch at a time with what the normal deletion does for one
(outbox.retention_batch: boosts, notifications, feed rows and counters go, each local post's
Delete federates in the same transaction) and removes their attachments' rows and files.
Remote posts older than a rule are removed here too, without telling anyone (their
author's node decides about its copy). Accounts under legal hold are skipped
entirely: their posts stay as they are until the hold is lifted; the next sweep then
removes them, and also the posts the hold archive kept for them (outbox.legal_holds) that
are older than the rules. A held group keeps every post in it the same way, whoever wrote
it.

The sweep works in batches of BATCH posts, each its own short write transaction, and yields
between batches, so that posting and reading never wait long behind it. Posts are found by
visibility and id (ids are time-ordered, a remote post's back-dated to its publication), so
each batch is an index range scan even on millions of posts.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import admin
from models.base import utcnow
from models.ids import id_for_time
from models.retention import RULE_VISIBILITIES, HeldStatus, RetentionRule
from models.status import GROUP_ONLY, VISIBILITIES, MediaAttachment, Status
from outbox import legal_holds, retention_batch
from outbox.context import Federation
from outbox.media import remove_files
from outbox.permissions import AdminError, Operator, require

log = logging.getLogger(__name__)

BATCH = 200
INTERVAL = 3600.0  # the background sweep runs hourly
MAX_DAYS = 100 * 366


@dataclass(frozen=True)
class Rule:
    visibility: str
    days: int
    updated_at: datetime


def check_rule(days: object, visibility: object) -> tuple[int, str]:
    """A rule's values, or AdminError saying what is wrong."""
    if isinstance(days, bool) or not isinstance(days, int):
        raise AdminError("days must be a whole number of days (0 or more)")
    if days < 0:
        raise AdminError("days must be 0 or more (0: everything older than now)")
    if days > MAX_DAYS:
        raise AdminError(f"days must be at most {MAX_DAYS}")
    if visibility not in RULE_VISIBILITIES:
        raise AdminError(
            f"unknown visibility {visibility!r}: one of {', '.join(RULE_VISIBILITIES)}"
        )
    assert isinstance(visibility, str)
    return days, visibility


async def rules(session: AsyncSession) -> list[Rule]:
    rows = await session.scalars(select(RetentionRule))
    order = {v: i for i, v in enumerate(RULE_VISIBILITIES)}
    found = [Rule(r.visibility, r.days, r.updated_at) for r in rows]
    return sorted(found, key=lambda r: order.get(r.visibility, 99))


async def set_rule(
    session: AsyncSession, operator: Operator, days: object, visibility: object = "all"
) -> Rule:
    require(operator, "manage_compliance")
    days, visibility = check_rule(days, visibility)
    row = await session.get(RetentionRule, visibility)
    now = utcnow()
    if row is None:
        session.add(RetentionRule(visibility=visibility, days=days, updated_at=now))
    else:
        row.days, row.updated_at = days, now
    admin.record(
        session,
        operator.name,
        "retention.set",
        visibility,
        f"days={days}",
        operator_account_id=operator.account_id,
    )
    await session.flush()
    return Rule(visibility, days, now)


async def clear_rules(
    session: AsyncSession, operator: Operator, visibility: str | None = None
) -> int:
    """Remove every rule (or the one of `visibility`); returns how many went."""
    require(operator, "manage_compliance")
    query = delete(RetentionRule)
    if visibility is not None:
        check_rule(0, visibility)
        query = query.where(RetentionRule.visibility == visibility)
    removed = (await session.execute(query)).rowcount or 0  # type: ignore[attr-defined]
    admin.record(
        session,
        operator.name,
        "retention.clear",
        visibility or "all rules",
        f"removed={removed}",
        operator_account_id=operator.account_id,
    )
    return int(removed)


def cutoffs(found: list[Rule], now: datetime) -> dict[str, datetime]:
    """For each visibility with a rule (its own or `all`): posts created before this go."""
    days = {r.visibility: r.days for r in found}
    result: dict[str, datetime] = {}
    for visibility in (*VISIBILITIES, GROUP_ONLY):  # posts of members-only groups: `all`
        rule = days.get(visibility, days.get("all"))
        if rule is not None:
            result[visibility] = now - timedelta(days=rule)
    return result


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


@dataclass
class Batch:
    found: int = 0
    deleted: int = 0
    files: list[str] = field(default_factory=list)


async def _batch(
    session: AsyncSession, fed: Federation | None, visibility: str, before_id: int
) -> Batch:
    """Delete up to BATCH posts of `visibility` older than `before_id`, oldest first,
    skipping rows another sweep holds. Ids are time-ordered for every post (a remote post's id
    is back-dated to its publication), so this is a range scan of (visibility, id)."""
    found = list(
        await session.scalars(
            select(Status)
            .where(
                Status.visibility == visibility,
                Status.id < before_id,
                legal_holds.unheld(),
            )
            .order_by(Status.id)
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        )
    )
    files = await retention_batch.delete_posts(session, fed, found)
    return Batch(found=len(found), deleted=len(found), files=files)


async def sweep(
    fed: Federation, now: datetime | None = None, *, stop: asyncio.Event | None = None
) -> int:
    """Apply the rules as of `now` (default: now); returns how many posts were deleted.
    With `stop`, it ends after the batch in hand once the event is set (the process stops;
    the next sweep goes on where this one ended)."""
    now = now or utcnow()
    async with fed.db.read() as session:
        limits = cutoffs(await rules(session), now)
    if not limits:
        return 0
    total = 0
    for visibility, limit in limits.items():
        while True:
            async with fed.db.write() as session:
                batch = await _batch(session, fed, visibility, id_for_time(_ms(limit)))
            # Once committed: a rollback needs them
            await asyncio.to_thread(remove_files, fed.settings, batch.files)
            if batch.deleted:
                fed.wake_deliveries()
            total += batch.deleted
            if stop is not None and stop.is_set():
                return total
            if batch.found < BATCH:
                break
            await asyncio.sleep(0.05)  # let posting and reading in between
    async with fed.db.write() as session:
        files = await _expire_archived(session, limits)
    await asyncio.to_thread(remove_files, fed.settings, files)
    if total:
        log.info("retention sweep deleted %d post(s)", total)
    return total


async def _expire_archived(session: AsyncSession, limits: dict[str, datetime]) -> list[str]:
    """Posts hidden under a hold that has since been lifted go as the rules say, with their
    attachments (while held they stay); returns the files to remove."""
    oldest = max(limits.values())
    rows = await session.scalars(
        select(HeldStatus)
        .where(
            HeldStatus.created_at < oldest,
            HeldStatus.account_id.not_in(legal_holds.held_ids()),
        )
        .limit(BATCH * 5)
    )
    groups = set((await session.scalars(legal_holds.held_ids())).all())
    files: list[str] = []
    for held in list(rows):
        if held.data.get("audience_id") in groups:
            continue  # posted in a group that is still held
        limit = limits.get(str(held.data.get("visibility")))
        if limit is None or held.created_at >= limit:
            continue
        media_ids = [int(i) for i in held.data.get("media_ids") or []]
        if media_ids:
            gone = await session.execute(
                delete(MediaAttachment)
                .where(MediaAttachment.id.in_(media_ids), MediaAttachment.status_id.is_(None))
                .returning(MediaAttachment.file_path)
            )
            files += [p for p in gone.scalars() if p]
        await session.delete(held)
    return files


def parse_instant(text: str, what: str = "time") -> datetime:
    """An ISO 8601 date or time (`2026-01-31`, `2026-01-31T12:00:00Z`); naive means UTC."""
    value = text.strip()
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise AdminError(f"{what} is not an ISO 8601 date or time: {text[:64]!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if not 1970 <= moment.year <= 9000:
        raise AdminError(f"{what} is out of range: {text[:64]!r}")
    return moment.astimezone(UTC)


async def sweep_now(fed: Federation, operator: Operator, now: datetime | None = None) -> int:
    """The sweep on an operator's demand (`flurfunk retention sweep`): needs
    `manage_compliance`. It goes into the audit log before the first post goes, with the
    time that counted as now and the rules in force (the count is known only at the end,
    and a sweep that stops half-way has still deleted what it deleted)."""
    require(operator, "manage_compliance")
    now = now or utcnow()
    async with fed.db.write() as session:
        found = await rules(session)
        admin.record(
            session,
            operator.name,
            "retention.sweep",
            now.isoformat(timespec="seconds"),
            " ".join(f"{r.visibility}={r.days}d" for r in found) or "no rules",
            operator_account_id=operator.account_id,
        )
    deleted = await sweep(fed, now)
    log.info("retention sweep by %s deleted %d post(s)", operator.name, deleted)
    return deleted
