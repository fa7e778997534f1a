"""Upload settings as operators set them: allowed types, size limits per kind, a per-person
quota; and what happens to uploads nobody uses and to the files of deleted posts."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from mastodon import Mastodon, MastodonAPIError
from PIL import Image
from sqlalchemy import update

from models.base import utcnow
from models.db import Database
from models.settings import Settings
from models.status import MediaAttachment
from outbox.media_processing import remove_unattached
from tests.integration.test_media import pdf
from tests.kit import RunningNode, User, running_node

KB = 1024


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNode]:
    """A node that keeps only PNG, JPEG and PDF, small files, and 60 KB per person."""
    with running_node(
        tmp_path_factory.mktemp("limits"),
        "sqlite",
        FLURFUNK_MEDIA_TYPES="image/png,image/jpeg,application/pdf",
        FLURFUNK_MEDIA_MAX_BYTES_IMAGE=str(40 * KB),
        FLURFUNK_MEDIA_MAX_BYTES_DOCUMENT=str(30 * KB),
        FLURFUNK_MEDIA_QUOTA_BYTES=str(60 * KB),
        FLURFUNK_MEDIA_MAX_PIXELS="1000000",
    ) as node:
        yield node


def noise_png(width: int, height: int) -> bytes:
    """A PNG that does not compress: its size is about width x height x 3 bytes."""
    import random

    pixels = random.Random(width * height).randbytes(width * height * 3)
    buffer = io.BytesIO()
    Image.frombytes("RGB", (width, height), pixels).save(buffer, "PNG")
    return buffer.getvalue()


def upload(node: RunningNode, user: User, data: bytes, name: str, mime: str) -> httpx.Response:
    return node.api(user, "POST", "/api/v2/media", files={"file": (name, data, mime)})


def stored_files(node: RunningNode) -> set[Path]:
    return {p for p in (node.data_dir / "media" / "attachments").rglob("*") if p.is_file()}


def test_instance_tells_apps_the_limits(strict: RunningNode) -> None:
    config = httpx.get(strict.url + "/api/v2/instance").json()["configuration"]["media_attachments"]
    assert config["image_size_limit"] == 40 * KB
    assert config["image_matrix_limit"] == 1_000_000
    assert "application/pdf" in config["supported_mime_types"]
    assert "video/mp4" not in config["supported_mime_types"]


def test_disallowed_type_is_refused_and_nothing_kept(strict: RunningNode) -> None:
    user = strict.create_user("typist")
    before = stored_files(strict)
    api = Mastodon(access_token=user.token, api_base_url=strict.url)
    with pytest.raises(MastodonAPIError, match="not allowed"):
        api.media_post(b"OggS" + b"\x00" * 64, mime_type="audio/ogg")
    table = upload(strict, user, b"Name;Wert\nA;1\nB;2\n", "werte.txt", "text/plain")
    assert table.status_code == 422
    assert table.json()["error"] == (
        "Validation failed: Files of type text/csv are not allowed on this node"
    )
    assert stored_files(strict) == before


def test_too_large_files_get_413_naming_the_limit(strict: RunningNode) -> None:
    user = strict.create_user("bigfiles")
    before = stored_files(strict)
    image = upload(strict, user, noise_png(200, 100), "photo.png", "image/png")  # ~60 KB
    assert image.status_code == 413
    assert "limit for images is 40 KB" in image.json()["error"]
    document = upload(strict, user, pdf(pages=1) + b"%" * (40 * KB), "big.pdf", "application/pdf")
    assert document.status_code == 413
    assert "limit for documents is 30 KB" in document.json()["error"]
    assert stored_files(strict) == before


def test_max_pixels_refuses_larger_images(strict: RunningNode) -> None:
    user = strict.create_user("pixels")
    buffer = io.BytesIO()
    Image.new("1", (1200, 1000)).save(buffer, "PNG")
    response = upload(strict, user, buffer.getvalue(), "wide.png", "image/png")
    assert response.status_code == 422
    assert "exceed the limit of 1000000 pixels" in response.json()["error"]


def test_quota_counts_every_upload_and_refusals_count_nothing(strict: RunningNode) -> None:
    user = strict.create_user("quota")
    api = Mastodon(access_token=user.token, api_base_url=strict.url)
    first = upload(strict, user, noise_png(100, 100), "a.png", "image/png")  # ~30 KB
    assert first.status_code == 200
    api.status_post("attached", media_ids=[first.json()["id"]])  # attached still counts
    refused = upload(strict, user, b"OggS" + b"\x00" * 64, "a.ogg", "audio/ogg")
    assert refused.status_code == 422  # and counts nothing
    second = upload(strict, user, noise_png(90, 90), "b.png", "image/png")  # ~24 KB
    assert second.status_code == 200
    third = upload(strict, user, noise_png(60, 60), "c.png", "image/png")  # ~11 KB
    assert third.status_code == 422
    assert "quota" in third.json()["error"]
    assert "60 KB" in third.json()["error"]
    # Deleting an upload frees its room.
    assert strict.api(user, "DELETE", f"/api/v1/media/{second.json()['id']}").status_code == 200
    assert upload(strict, user, noise_png(60, 60), "c.png", "image/png").status_code == 200


def _backdate(node: RunningNode, media_id: str, days: float) -> None:
    async def run() -> None:
        db = Database(node.database_url)
        then = utcnow() - timedelta(days=days)
        async with db.write() as session:
            await session.execute(
                update(MediaAttachment)
                .where(MediaAttachment.id == int(media_id))
                .values(created_at=then, unattached_since=None)
            )
        await db.dispose()

    asyncio.run(run())


def _sweep(node: RunningNode) -> int:
    async def run() -> int:
        db = Database(node.database_url)
        try:
            return await remove_unattached(db, Settings(data_dir=node.data_dir))
        finally:
            await db.dispose()

    return asyncio.run(run())


def test_unattached_uploads_go_after_a_day(node: RunningNode, alice: User) -> None:
    api = Mastodon(access_token=alice.token, api_base_url=node.url)
    old = api.media_post(noise_png(20, 20), mime_type="image/png")
    fresh = api.media_post(noise_png(21, 21), mime_type="image/png")
    used = api.media_post(noise_png(22, 22), mime_type="image/png")
    api.status_post("kept", media_ids=[used])
    for media in (old, used):
        _backdate(node, media.id, days=1.5)
    assert _sweep(node) >= 1
    assert httpx.get(old.url).status_code == 404
    assert node.api(alice, "GET", f"/api/v1/media/{old.id}").status_code == 404
    assert httpx.get(fresh.url).status_code == 200
    assert httpx.get(used.url).status_code == 200


def test_deleting_a_post_removes_its_files(node: RunningNode, alice: User) -> None:
    api = Mastodon(access_token=alice.token, api_base_url=node.url)
    photo = api.media_post(noise_png(30, 30), mime_type="image/png")
    status = api.status_post("gleich weg", media_ids=[photo])
    deleted = node.api(alice, "DELETE", f"/api/v1/statuses/{status.id}?delete_media=true")
    assert deleted.status_code == 200
    assert httpx.get(photo.url).status_code == 404
    assert httpx.get(photo.preview_url).status_code == 404


def test_a_deleted_posts_files_stay_a_day_for_a_redraft(node: RunningNode, alice: User) -> None:
    api = Mastodon(access_token=alice.token, api_base_url=node.url)
    photo = api.media_post(noise_png(31, 31), mime_type="image/png")
    status = api.status_post("noch einmal", media_ids=[photo])
    _backdate(node, photo.id, days=3)  # an old post: its upload is older than a day
    api.status_delete(status)
    _sweep(node)
    redraft = api.status_post("noch einmal, richtig", media_ids=[photo])
    assert redraft.media_attachments[0].id == photo.id
    api.status_delete(redraft)
    # A day after the deletion nothing uses it any more: the sweep removes it.
    _backdate(node, photo.id, days=3)
    _sweep(node)
    assert httpx.get(photo.url).status_code == 404
