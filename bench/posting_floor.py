"""The floor for status creation: a bare Starlette endpoint that does only what a post must.

It parses the same request (bearer token, form body), writes the status row, its home-feed
rows and its Create with one delivery row per remote shared inbox in one transaction, through
SQLAlchemy Core on the node's own database, and answers the JSON the node answered for a
post (a template taken from the node in the same run) with orjson. Everything it could know
in advance it does: tokens, audiences and inboxes are read once at start-up.

Run by bench/posting.py as `python -m bench.posting_floor PORT DATABASE_URL TEMPLATE_JSON`.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import orjson
import uvicorn
from sqlalchemy import insert, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from models.base import utcnow
from models.db import Database
from models.federation import Delivery, OutboxActivity
from models.ids import new_id
from models.tables import AccessToken, Account, FeedEntry, Follow, Status
from web.auth import digest

STATUSES = Status.__table__
FEED = FeedEntry.__table__
ACTIVITIES = OutboxActivity.__table__
DELIVERIES = Delivery.__table__


class Floor:
    def __init__(self, url: str, template: dict[str, Any]) -> None:
        self.db = Database(url)
        self.template = template
        self.tokens: dict[str, int] = {}
        self.audience: dict[int, list[int]] = {}
        self.inboxes: dict[int, list[str]] = {}
        self.authors: dict[int, str] = {}

    async def load(self) -> None:
        async with self.db.read() as session:
            for token_hash, account_id in await session.execute(
                select(AccessToken.token_hash, AccessToken.account_id)
            ):
                self.tokens[token_hash] = account_id
            for account_id, username in await session.execute(
                select(Account.id, Account.username).where(Account.domain.is_(None))
            ):
                self.authors[account_id] = username
                self.audience[account_id] = [account_id]
                self.inboxes[account_id] = []
            rows = await session.execute(
                select(Follow.target_account_id, Follow.account_id, Account.shared_inbox_url)
                .join(Account, Account.id == Follow.account_id)
                .where(Follow.target_account_id.in_(self.authors))
            )
            for target, follower, inbox in rows:
                if inbox is None:
                    self.audience[target].append(follower)
                elif inbox not in self.inboxes[target]:
                    self.inboxes[target].append(inbox)
        await self.db.dispose()  # uvicorn runs its own event loop; connections belong to one

    async def post(self, request: Request) -> Response:
        authorization = request.headers.get("authorization", "")
        author = self.tokens.get(digest(authorization.removeprefix("Bearer ")))
        if author is None:
            return Response(b'{"error":"The access token is invalid"}', 401)
        form = await request.form()
        text = str(form.get("status", ""))
        visibility = str(form.get("visibility", "public"))
        status_id, now = new_id(), utcnow()
        base = self.template["account"]["url"].rsplit("/@", 1)[0]
        name = self.authors[author]
        uri = f"{base}/users/{name}/statuses/{status_id}"
        html = "<p>" + text.replace("&", "&amp;").replace("<", "&lt;") + "</p>"
        activity_id = new_id()
        async with self.db.write() as session:
            await session.execute(
                insert(STATUSES).values(
                    id=status_id,
                    created_at=now,
                    account_id=author,
                    uri=uri,
                    url=f"{base}/@{name}/{status_id}",
                    local=True,
                    text=text,
                    content_type="text/plain",
                    content=html,
                    spoiler_text="",
                    sensitive=False,
                    visibility=visibility,
                    replies_count=0,
                    reblogs_count=0,
                    favourites_count=0,
                )
            )
            await session.execute(
                insert(FEED),
                [
                    {"account_id": a, "status_id": status_id, "author_id": author}
                    for a in self.audience[author]
                ],
            )
            note = {"id": uri, "type": "Note", "content": html, "published": now.isoformat()}
            activity = {"id": uri + "/activity", "type": "Create", "object": note}
            await session.execute(
                insert(ACTIVITIES).values(
                    id=activity_id,
                    created_at=now,
                    uri=activity["id"],
                    account_id=author,
                    type="Create",
                    payload=orjson.dumps(activity).decode(),
                    status_id=status_id,
                    public=True,
                )
            )
            await session.execute(
                insert(DELIVERIES),
                [
                    {
                        "id": new_id(),
                        "created_at": now,
                        "activity_id": activity_id,
                        "inbox_url": inbox,
                        "host": inbox.split("/")[2],
                        "state": "pending",
                        "attempts": 0,
                        "next_attempt_at": now,
                    }
                    for inbox in self.inboxes[author]
                ],
            )
        answer = dict(self.template)
        answer.update(
            id=str(status_id),
            uri=uri,
            url=f"{base}/@{name}/{status_id}",
            content=html,
            created_at=now.isoformat(timespec="milliseconds") + "Z",
            visibility=visibility,
        )
        return Response(orjson.dumps(answer), media_type="application/json")


def main() -> None:
    port, url, template = int(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    floor = Floor(url, orjson.loads(template.read_bytes()))
    asyncio.run(floor.load())
    app = Starlette(routes=[Route("/api/v1/statuses", floor.post, methods=["POST"])])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
