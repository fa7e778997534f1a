"""Invite links in storage, on both databases: the account waits without a usable password,
the link works once and lapses, only its digest is kept, and both steps are in the audit log."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from models import admin
from models.account import User
from models.db import Database
from models.invite import Invite
from models.settings import Settings
from outbox import invites, user_admin
from outbox.accounts import AccountError
from outbox.invites import InviteGone, UnknownInvite
from outbox.user_admin import Operator
from tests.integration.db_urls import database_url  # noqa: F401 (a fixture)
from web.auth import check_password, hash_password

SETTINGS = Settings(public_url="http://hq.flurfunk.test")
CLI = Operator("cli:ops")


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:  # noqa: F811
    database = Database(database_url)
    yield database
    await database.dispose()


async def invite(db: Database, name: str, **options: object) -> invites.Issued:
    async with db.write() as session:
        return await invites.invite_user(session, SETTINGS, CLI, username=name, **options)  # type: ignore[arg-type]


async def test_an_invite_is_used_once(db: Database) -> None:
    issued = await invite(db, "ines", email="ines@example.com")
    assert issued.link(SETTINGS) == f"http://hq.flurfunk.test/auth/invite/{issued.token}"
    async with db.read() as session:
        stored = (await session.execute(select(Invite))).scalar_one()
        user = await session.get(User, issued.account.id)
    assert stored.token_hash == hashlib.sha256(issued.token.encode()).hexdigest()
    assert issued.token not in (stored.token_hash, user.password_hash if user else "")
    assert user is not None
    assert not check_password(user.password_hash, "")  # nobody signs in before the invite

    async with db.write() as session:
        account = await invites.use_invite(session, issued.token, hash_password("chosen-pw"))
    assert account.username == "ines"
    async with db.read() as session:
        user = await session.get(User, issued.account.id)
        log = await admin.audit_log(session)
    assert user is not None
    assert check_password(user.password_hash, "chosen-pw")
    assert [(e.operator, e.action, e.target) for e in log][:3] == [
        ("ines", "user.invite_used", "ines"),
        ("cli:ops", "user.invite", "ines"),
        ("cli:ops", "user.create", "ines"),
    ]

    async with db.write() as session:
        with pytest.raises(InviteGone):
            await invites.use_invite(session, issued.token, hash_password("another-pw"))


async def test_expired_unknown_and_suspended_invites_are_refused(db: Database) -> None:
    expired = await invite(db, "old", lifetime=timedelta(seconds=-1))
    suspended = await invite(db, "gone")
    async with db.write() as session:
        await user_admin.suspend(session, CLI, "gone")
    async with db.read() as session:
        for token, refusal in (
            (expired.token, InviteGone),
            (suspended.token, InviteGone),
            ("x" * 43, UnknownInvite),
            ("../../etc/passwd", UnknownInvite),
            ("", UnknownInvite),
        ):
            with pytest.raises(refusal):
                await invites.open_invite(session, token)


async def test_an_invite_for_a_taken_name_creates_nothing(db: Database) -> None:
    await invite(db, "ines")
    with pytest.raises(AccountError):
        await invite(db, "INES")
    async with db.read() as session:
        assert len((await session.execute(select(Invite))).scalars().all()) == 1
