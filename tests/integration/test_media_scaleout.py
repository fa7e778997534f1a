"""A PDF's preview on a scaled-out node (PostgreSQL, Redis, `serve --workers 2` and a worker):
the web processes, which hold the media folder, share the processing without doing it twice,
and a claim whose process died is taken again."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Iterator

import httpx
import pytest
from PIL import Image
from sqlalchemy import text

from models.db import Database
from tests.federation_kit import Network, Plan
from tests.integration.test_media import pdf
from tests.kit import RunningNode, User
from tests.scale_kit import SHARED_REDIS, scaled, scaled_network


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    plans = {"hq": Plan()}
    with scaled_network(
        tmp_path_factory.mktemp("media"), plans, {"hq": f"{SHARED_REDIS}/3"}
    ) as running:
        yield running


def ready(node: RunningNode, user: User, media_id: str) -> dict[str, object]:
    answer = node.api(user, "GET", f"/api/v1/media/{media_id}")
    while answer.status_code == 206:
        time.sleep(0.2)
        answer = node.api(user, "GET", f"/api/v1/media/{media_id}")
    assert answer.status_code == 200, answer.text
    data: dict[str, object] = answer.json()
    return data


def _sql(url: str, statement: str) -> None:
    async def run() -> None:
        db = Database(url)
        try:
            async with db.write() as session:
                await session.execute(text(statement))
        finally:
            await db.dispose()

    asyncio.run(run())


def test_pdf_preview_on_a_scaled_out_node(net: Network) -> None:
    hq = scaled(net, "hq")
    ada = hq.create_user("ada")
    uploads = [
        hq.api(
            ada, "POST", "/api/v2/media", files={"file": (f"r{n}.pdf", pdf(2), "application/pdf")}
        )
        for n in range(4)
    ]
    assert [u.status_code for u in uploads] == [202] * 4
    for upload in uploads:
        media = ready(hq, ada, upload.json()["id"])
        preview = httpx.get(str(media["preview_url"]))
        assert preview.status_code == 200
        assert Image.open(io.BytesIO(preview.content)).height > 0
    # Each was rendered once: one preview file per attachment folder.
    folders = [p for p in (hq.data_dir / "media" / "attachments").glob("*/*") if p.is_dir()]
    assert all(len(list(f.glob("small.*"))) == 1 for f in folders)
    posted = hq.api(
        ada,
        "POST",
        "/api/v1/statuses",
        data={"status": "Berichte", "media_ids[]": uploads[0].json()["id"]},
    )
    assert posted.status_code == 200


def test_a_claim_left_by_a_dead_process_is_taken_again(net: Network) -> None:
    hq = scaled(net, "hq")
    bo = hq.create_user("bo")
    upload = hq.api(
        bo, "POST", "/api/v2/media", files={"file": ("a.pdf", pdf(1), "application/pdf")}
    )
    media_id = upload.json()["id"]
    ready(hq, bo, media_id)
    # As a process that claimed it and died would leave it: queued, its lease run out.
    _sql(
        hq.database_url,
        "UPDATE media_attachments SET processing = 'queued', preview_path = NULL, "
        "processing_attempts = 1, "
        "processing_due = (now() at time zone 'utc') - interval '1 minute' "
        f"WHERE id = {int(media_id)}",
    )
    assert hq.api(bo, "GET", f"/api/v1/media/{media_id}").status_code in (200, 206)
    media = ready(hq, bo, media_id)
    assert httpx.get(str(media["preview_url"])).status_code == 200
