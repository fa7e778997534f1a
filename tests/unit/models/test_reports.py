"""Filing reports on a real SQLite database: what a report keeps, who hears of it, and what
is refused."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.account import Account
from models.moderation import Report
from models.notification import Notification
from outbox.reports import ReportError, file_report
from tests.unit.models.test_admin_actions import create, database, write

__all__ = ["database"]  # the fixture, used by name


def test_a_report_reaches_every_moderator_but_not_its_target(database: str) -> None:
    boss = create(database, "boss", "admin")
    mod = create(database, "mod", "moderator")
    ann = create(database, "ann")
    bob = create(database, "bob")

    async def report(session: AsyncSession) -> int:
        reporter = await session.get(Account, ann)
        target = await session.get(Account, bob)
        assert reporter is not None
        assert target is not None
        filed = await file_report(
            session, reporter=reporter, target=target, category="spam", comment="ads"
        )
        return filed.id

    report_id = write(database, report)

    async def seen(session: AsyncSession) -> tuple[Report | None, list[tuple[int, str, int]]]:
        rows = await session.scalars(
            select(Notification).where(Notification.report_id.is_not(None))
        )
        return await session.get(Report, report_id), [
            (n.account_id, n.type, n.from_account_id) for n in rows
        ]

    stored, notes = write(database, seen)
    assert stored is not None
    assert stored.category == "spam"
    assert stored.comment == "ads"
    assert sorted(n[0] for n in notes) == sorted([mod, boss])
    assert {(t, f) for _, t, f in notes} == {("admin.report", ann)}


def test_the_node_itself_may_report_and_bad_reports_are_refused(database: str) -> None:
    create(database, "mod", "moderator")
    bob = create(database, "bob")

    async def system_report(session: AsyncSession) -> str:
        target = await session.get(Account, bob)
        assert target is not None
        filed = await file_report(session, reporter=None, target=target, category="legal")
        return f"{filed.account_id}/{filed.category}"

    assert write(database, system_report) == "None/legal"

    async def bad(session: AsyncSession, **kwargs: object) -> None:
        target = await session.get(Account, bob)
        assert target is not None
        await file_report(session, reporter=None, target=target, **kwargs)  # type: ignore[arg-type]

    with pytest.raises(ReportError, match="category"):
        write(database, lambda s: bad(s, category="rude"))
    with pytest.raises(ReportError, match="longer than"):
        write(database, lambda s: bad(s, comment="x" * 1001))
    with pytest.raises(ReportError, match="not one of"):
        write(database, lambda s: bad(s, status_ids=[12345]))
