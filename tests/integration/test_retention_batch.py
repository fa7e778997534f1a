"""The retention sweep deletes posts a batch at a time; what it leaves behind must be what
deleting each post by hand would leave: no boost, notification, bookmark, favourite, poll,
conversation, attachment or timeline entry of a deleted post, counters that add up, and the
replies of others still there (without their parent). On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import io
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from PIL import Image
from sqlalchemy import text

from models.db import Database
from tests.kit import RunningNode, User, running_node

# Every table that names a status; none may name a deleted one.
REFERENCING = (
    ("feed_entries", "status_id"),
    ("notifications", "status_id"),
    ("favourites", "status_id"),
    ("bookmarks", "status_id"),
    ("polls", "status_id"),
    ("media_attachments", "status_id"),
    ("mentions", "status_id"),
    ("status_tags", "status_id"),
    ("status_edits", "status_id"),
    ("statuses", "reblog_of_id"),
    ("statuses", "in_reply_to_id"),
)


@pytest.fixture(params=["sqlite", "postgres"])
def node(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningNode]:
    with running_node(tmp_path, request.param) as running:
        yield running


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (12, 8), (0, 90, 160)).save(buffer, "PNG")
    return buffer.getvalue()


def ok(answer: httpx.Response) -> dict[str, object]:
    assert answer.status_code == 200, answer.text
    result: dict[str, object] = answer.json()
    return result


def ids(answer: httpx.Response) -> set[str]:
    assert answer.status_code == 200, answer.text
    return {str(item["id"]) for item in answer.json()}


def referencing(url: str, gone: set[str]) -> dict[str, int]:
    async def count() -> dict[str, int]:
        db = Database(url)
        found: dict[str, int] = {}
        try:
            async with db.read() as session:
                numbers = ",".join(str(int(i)) for i in gone)
                for table, column in REFERENCING:
                    query = f"SELECT count(*) FROM {table} WHERE {column} IN ({numbers})"
                    found[f"{table}.{column}"] = int(
                        (await session.execute(text(query))).scalar() or 0
                    )
        finally:
            await db.dispose()
        return found

    return asyncio.run(count())


def test_a_sweep_leaves_nothing_of_the_posts_it_deleted(node: RunningNode) -> None:
    writer, fan = node.create_user("writer"), node.create_user("fan")
    ok(node.api(fan, "POST", f"/api/v1/accounts/{writer.id}/follow"))
    word = f"zebrafinch{secrets.token_hex(3)}"
    media = ok(
        node.api(writer, "POST", "/api/v2/media", files={"file": ("p.png", png(), "image/png")})
    )

    def post(user: User, **fields: object) -> dict[str, object]:
        return ok(node.api(user, "POST", "/api/v1/statuses", json=fields))

    pictured = post(writer, status=f"{word} #quarterly figures", media_ids=[media["id"]])
    polled = post(writer, status="lunch?", poll={"options": ["pizza", "soup"], "expires_in": 3600})
    secret = post(writer, status=f"@{fan.name} between us", visibility="direct")
    reply = post(fan, status="well said", in_reply_to_id=pictured["id"], visibility="unlisted")
    boost = ok(node.api(fan, "POST", f"/api/v1/statuses/{pictured['id']}/reblog"))
    ok(node.api(fan, "POST", f"/api/v1/statuses/{pictured['id']}/favourite"))
    ok(node.api(fan, "POST", f"/api/v1/statuses/{pictured['id']}/bookmark"))
    poll = polled["poll"]
    assert isinstance(poll, dict)
    ok(node.api(fan, "POST", f"/api/v1/polls/{poll['id']}/votes", json={"choices": [0]}))
    gone = {str(s["id"]) for s in (pictured, polled, secret, boost)}
    assert {str(boost["id"]), str(polled["id"])} <= ids(
        node.api(fan, "GET", "/api/v1/timelines/home")
    )
    assert ids(node.api(fan, "GET", "/api/v1/conversations"))
    media_url = str(media["url"])
    assert httpx.get(media_url, timeout=30).status_code == 200

    # Public posts and direct messages older than a day, as seen two days from now; the
    # unlisted reply stays.
    node.cli("retention", "set", "--days", "1", "--visibility", "public")
    node.cli("retention", "set", "--days", "1", "--visibility", "direct")
    as_of = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    swept = node.cli("retention", "sweep", "--as-of", as_of)
    assert int(swept.stdout.split()[-1]) == 4

    for status_id in gone:
        assert node.api(writer, "GET", f"/api/v1/statuses/{status_id}").status_code == 404
    kept = ok(node.api(fan, "GET", f"/api/v1/statuses/{reply['id']}"))
    assert kept["in_reply_to_id"] is None
    assert ok(node.api(fan, "GET", f"/api/v1/statuses/{reply['id']}/context"))["ancestors"] == []
    for user in (writer, fan):
        assert not gone & ids(node.api(user, "GET", "/api/v1/timelines/home"))
        notes = node.api(user, "GET", "/api/v1/notifications").json()
        assert not {str((n.get("status") or {}).get("id")) for n in notes} & gone
        talks = node.api(user, "GET", "/api/v1/conversations").json()
        assert not {str((c.get("last_status") or {}).get("id")) for c in talks} & gone
    assert not ids(node.api(fan, "GET", "/api/v1/bookmarks"))
    assert not ids(node.api(fan, "GET", "/api/v1/favourites"))
    assert not ids(node.api(writer, "GET", f"/api/v1/accounts/{writer.id}/statuses"))
    assert not ids(node.api(fan, "GET", "/api/v1/timelines/tag/quarterly"))
    found = node.api(fan, "GET", "/api/v2/search", params={"q": word, "type": "statuses"})
    assert ok(found)["statuses"] == []
    assert node.api(fan, "GET", f"/api/v1/polls/{poll['id']}").status_code == 404
    assert node.api(writer, "GET", f"/api/v1/media/{media['id']}").status_code == 404
    assert httpx.get(media_url, timeout=30).status_code == 404
    assert ok(node.api(writer, "GET", f"/api/v1/accounts/{writer.id}"))["statuses_count"] == 0
    assert ok(node.api(fan, "GET", f"/api/v1/accounts/{fan.id}"))["statuses_count"] == 1

    assert referencing(node.database_url, gone) == {f"{t}.{c}": 0 for t, c in REFERENCING}
    audit = node.cli("audit", "export", "--format", "json").stdout
    assert "retention.sweep" in audit
    assert "public=1d" in audit
