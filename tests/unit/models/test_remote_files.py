"""Copies of remote files on a real SQLite database: rows per URL, and the sweep that drops
copies nothing refers to any more (their files too)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from models import remote_file
from models.account import Account
from models.base import utcnow
from models.db import Database
from models.migrate import upgrade
from models.remote_file import RemoteFile, key_of
from models.settings import Settings
from outbox.remote_media import folder, forget_unused

AVATAR = "https://sales.example/media/avatar.png"
GONE = "https://sales.example/media/deleted-post.png"


def test_copies_nothing_names_are_forgotten_with_their_files(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'remote.db'}"
    upgrade(url)
    settings = Settings(data_dir=tmp_path)

    async def run() -> tuple[int, set[str]]:
        db = Database(url)
        try:
            async with db.write() as session:
                session.add(
                    Account(
                        username="bob",
                        domain="sales.example",
                        uri="https://sales.example/users/bob",
                        avatar_remote_url=AVATAR,
                    )
                )
                await remote_file.want(session, [AVATAR, GONE, AVATAR, None])
                for row in (await session.execute(select(RemoteFile))).scalars():
                    row.path = f"{row.key[:2]}/{row.key}.png"
                    row.created_at = utcnow() - timedelta(hours=2)
                    path = folder(settings) / row.path
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(b"png")
            gone = await forget_unused(db, settings)
            async with db.read() as session:
                left = set((await session.execute(select(RemoteFile.url))).scalars())
            return gone, left
        finally:
            await db.dispose()

    gone, left = asyncio.run(run())
    assert (gone, left) == (1, {AVATAR})
    assert (folder(settings) / key_of(AVATAR)[:2] / f"{key_of(AVATAR)}.png").exists()
    assert not (folder(settings) / key_of(GONE)[:2] / f"{key_of(GONE)}.png").exists()
