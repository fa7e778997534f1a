"""Where one POST /api/v1/statuses spends its statements and CPU, measured in this process.

`python -m bench.posting_profile [--posts N] [--top N]` builds the node's app in process on a
fresh SQLite database seeded as bench/posting.py seeds it, posts through an ASGI transport (no
sockets, so the figures are the node's own work), counts the SQL statements per post (every
statement the engine sends, BEGIN and COMMIT included) and prints a cProfile summary.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import cProfile
import os
import pstats
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event

from bench.delivery import Sink
from bench.posting_seed import REMOTE_HOSTS, Seeded, seed_posting
from models.migrate import upgrade

PUBLIC_URL = "http://127.0.0.1:9"


def node_env(data_dir: Path, database_url: str, sink_port: int) -> dict[str, str]:
    return {
        "FLURFUNK_PUBLIC_URL": PUBLIC_URL,
        "FLURFUNK_DATA_DIR": str(data_dir),
        "FLURFUNK_DATABASE_URL": database_url,
        "FLURFUNK_CONFIG": str(data_dir / "none.toml"),
        "FLURFUNK_ALLOWLIST": ",".join(REMOTE_HOSTS),
        "FLURFUNK_CONNECT_TO": ",".join(f"{h}=127.0.0.1:{sink_port}" for h in REMOTE_HOSTS),
    }


async def profile(posts: int, top: int, work: Path, sink: Sink) -> None:
    url = f"sqlite+aiosqlite:///{work / 'flurfunk.db'}"
    seeded: Seeded = await seed_posting(url, PUBLIC_URL)
    os.environ.update(node_env(work, url, sink.port))
    from web.app import create_app
    from web.config import load_settings

    app = create_app(load_settings())
    statements: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = app.state.node.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", note)
    token = next(iter(seeded.tokens.values()))
    headers = {"Authorization": f"Bearer {token}"}
    transport = httpx.ASGITransport(app=app)
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(app.router.lifespan_context(app))
        client = await stack.enter_async_context(
            httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL)
        )

        async def post(n: int) -> None:
            answer = await client.post(
                "/api/v1/statuses",
                headers=headers,
                data={"status": f"Profile post {n} #bench", "visibility": "public"},
            )
            answer.raise_for_status()

        for n in range(20):  # warm-up: caches, statement cache, connections
            await post(n)
        await asyncio.sleep(0.5)
        statements.clear()
        await post(-1)
        await asyncio.sleep(0.2)  # what the commit publishes runs after the answer
        one = list(statements)
        print(f"statements for one post: {len(one)}")
        for kind, count in collections.Counter(s.split()[0].upper() for s in one).items():
            print(f"  {kind}: {count}")
        for s in one:
            print("   ", " ".join(s.split())[:150])
        started, cpu = time.perf_counter(), time.process_time()
        for n in range(posts):
            await post(n)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        print(
            f"{posts} posts in {elapsed:.2f} s: {elapsed / posts * 1000:.2f} ms each, "
            f"{cpu / posts * 1000:.2f} ms of CPU each (load {os.getloadavg()[0]:.1f})"
        )
        # CPU time, not wall time: on a busy machine waiting would drown the figures.
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        for n in range(posts):
            await post(n)
        profiler.disable()
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(top)
        stats.sort_stats("tottime").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=200)
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="flurfunk-posting-profile-"))
    sink = Sink()
    try:
        upgrade(f"sqlite+aiosqlite:///{work / 'flurfunk.db'}")
        asyncio.run(profile(args.posts, args.top, work, sink))
    finally:
        sink.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
