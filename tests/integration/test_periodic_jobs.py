"""The periodic jobs of a serve process: scheduled statuses get posted, ended polls announced."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from models.base import utcnow
from models.db import Database
from models.migrate import upgrade
from models.notification import Notification
from models.poll import Poll, ScheduledStatus
from models.settings import Settings
from models.status import Status
from outbox.accounts import create_local_account
from outbox.context import Federation
from outbox.periodic import close_polls, publish_scheduled
from outbox.polls import PollDraft, vote
from outbox.scheduled import draft_params
from outbox.statuses import Draft, post_status
from web.runtime import build_federation


@pytest.fixture
async def fed(tmp_path: Path) -> AsyncIterator[Federation]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'node.db'}"
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    federation = await build_federation(
        Settings(public_url="http://hq.flurfunk.test", data_dir=tmp_path, database_url=url), db
    )
    yield federation
    await federation.client.aclose()
    await db.dispose()


async def test_a_due_scheduled_status_is_posted_once(fed: Federation) -> None:
    async with fed.db.write() as session:
        ada = await create_local_account(session, fed.settings, username="ada", password_hash="x")
        draft = Draft(text="Good morning, #team", visibility="public")
        session.add(
            ScheduledStatus(
                account_id=ada.id,
                scheduled_at=utcnow() - timedelta(seconds=1),
                params=draft_params(draft),
                media_ids=[],
            )
        )
        session.add(
            ScheduledStatus(
                account_id=ada.id,
                scheduled_at=utcnow() + timedelta(hours=1),
                params=draft_params(Draft(text="later")),
                media_ids=[],
            )
        )
    assert await publish_scheduled(fed) == 1
    assert await publish_scheduled(fed) == 0
    async with fed.db.read() as session:
        posted = (await session.execute(select(Status))).scalars().all()
        waiting = (await session.execute(select(ScheduledStatus))).scalars().all()
    assert [s.text for s in posted] == ["Good morning, #team"]
    assert "/tags/team" in posted[0].content
    assert len(waiting) == 1


async def test_a_scheduled_reply_to_a_deleted_post_is_dropped(fed: Federation) -> None:
    async with fed.db.write() as session:
        ada = await create_local_account(session, fed.settings, username="ada", password_hash="x")
        draft = Draft(text="replying", in_reply_to_id=12345)
        session.add(
            ScheduledStatus(
                account_id=ada.id, scheduled_at=utcnow(), params=draft_params(draft), media_ids=[]
            )
        )
    assert await publish_scheduled(fed) == 1
    async with fed.db.read() as session:
        assert (await session.execute(select(Status))).first() is None
        assert (await session.execute(select(ScheduledStatus))).first() is None


async def test_ended_poll_notifies_author_and_voters_once(fed: Federation) -> None:
    async with fed.db.write() as session:
        ada = await create_local_account(session, fed.settings, username="ada", password_hash="x")
        bo = await create_local_account(session, fed.settings, username="bo", password_hash="x")
        status, _ = await post_status(
            session, fed.settings, ada, Draft(text="Coffee?", poll=PollDraft(("yes", "no"), 300))
        )
    async with fed.db.write() as session:
        poll = (await session.execute(select(Poll))).scalar_one()
        await vote(session, bo, poll.id, [0])
        poll.expires_at = utcnow() - timedelta(seconds=1)
    assert await close_polls(fed) == 1
    assert await close_polls(fed) == 0
    async with fed.db.read() as session:
        notified = (
            (
                await session.execute(
                    select(Notification.account_id).where(
                        Notification.type == "poll", Notification.status_id == status.id
                    )
                )
            )
            .scalars()
            .all()
        )
    assert sorted(notified) == sorted([ada.id, bo.id])
