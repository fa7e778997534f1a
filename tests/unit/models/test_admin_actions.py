"""Admin actions on a real SQLite database: who may do what, and the audit log they leave."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import admin
from models import allowlist as stored_allowlist
from models.admin import AdminAction
from models.db import Database
from models.migrate import upgrade
from models.settings import Settings
from outbox import user_admin
from outbox.user_admin import AdminError, NotPermitted, Operator, UnknownUser

T = TypeVar("T")
CLI = Operator("cli:ops")


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'admin.db'}"
    upgrade(url)
    return url


def write(url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def run() -> T:
        db = Database(url)
        try:
            async with db.write() as session:
                return await work(session)
        finally:
            await db.dispose()

    return asyncio.run(run())


def create(url: str, name: str, role: str = "user") -> int:
    async def make(session: AsyncSession) -> int:
        account = await user_admin.create_user(
            session, Settings(), CLI, username=name, password_hash="x", role=role
        )
        return account.id

    return write(url, make)


def test_actions_leave_one_audit_log_with_the_allowlist(database: str) -> None:
    create(database, "boss", "admin")
    create(database, "ann")
    write(database, lambda s: user_admin.suspend(s, CLI, "ann"))
    write(database, lambda s: stored_allowlist.add(s, "hr.corp.example", "cli:ops"))
    write(database, lambda s: user_admin.set_role(s, CLI, "ANN", "moderator"))

    log = write(database, admin.audit_log)
    assert [(e.operator, e.action, e.target) for e in log] == [
        ("cli:ops", "user.role", "ann"),
        ("cli:ops", "allowlist.add", "hr.corp.example"),
        ("cli:ops", "user.suspend", "ann"),
        ("cli:ops", "user.create", "ann"),
        ("cli:ops", "user.create", "boss"),
    ]
    assert log[0].detail == "role=moderator was=user"


def test_a_refused_action_changes_nothing_and_logs_nothing(database: str) -> None:
    boss = create(database, "boss", "admin")
    mod = create(database, "mod", "moderator")
    create(database, "ann")
    moderator = Operator("mod", role="moderator", account_id=mod)
    before = len(write(database, admin.audit_log))

    refused: list[tuple[type[AdminError], Callable[[AsyncSession], Awaitable[object]]]] = [
        (NotPermitted, lambda s: user_admin.set_role(s, moderator, "ann", "admin")),
        (NotPermitted, lambda s: user_admin.suspend(s, moderator, "boss")),
        (NotPermitted, lambda s: user_admin.suspend(s, moderator, "mod")),
        (NotPermitted, lambda s: user_admin.suspend(s, Operator("ann", role="user"), "ann")),
        (AdminError, lambda s: user_admin.suspend(s, Operator("boss2", account_id=mod), "boss")),
        (UnknownUser, lambda s: user_admin.unsuspend(s, CLI, "nobody")),
        (AdminError, lambda s: user_admin.set_role(s, CLI, "boss", "user")),
    ]
    for error, action in refused:
        with pytest.raises(error):
            write(database, action)
    assert len(write(database, admin.audit_log)) == before

    assert write(database, lambda s: user_admin.suspend(s, moderator, "ann")) is True
    users = {u.username: u for u in write(database, user_admin.list_users)}
    assert users["ann"].suspended_at is not None
    assert users["boss"].role == "admin"
    assert boss != mod


def test_a_scim_token_is_audited_with_the_operators_account(database: str) -> None:
    from outbox import scim

    person = Operator("anna", account_id=4242)
    write(database, lambda s: scim.add_token(s, person, "entra", "0" * 64))
    write(database, lambda s: scim.add_token(s, CLI, "okta", "1" * 64))
    with pytest.raises(NotPermitted):
        write(database, lambda s: scim.add_token(s, Operator("bob", role="user"), "x", "2" * 64))

    async def entries(session: AsyncSession) -> list[tuple[str, int | None, str]]:
        rows = await session.scalars(select(AdminAction).order_by(AdminAction.id))
        return [(r.operator, r.operator_account_id, r.target) for r in rows]

    found = write(database, entries)
    assert ("anna", 4242, "entra") in found
    assert ("cli:ops", None, "okta") in found
    assert all(target != "x" for _, _, target in found)
