"""Both storage backends behave alike: the DATA_DIR folder and an S3 bucket (moto's server on
loopback). Keys are paths relative to an area; nothing outside an area can be named."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from models.settings import Settings
from outbox import storage
from outbox.storage import Storage
from tests.s3_kit import KEYS, moto_server

BUCKET = "unit-media"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_server(BUCKET) as endpoint:
        yield endpoint


@pytest.fixture(params=["directory", "s3"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    plain = Settings(data_dir=tmp_path)
    if request.param == "directory":
        return plain
    endpoint = request.getfixturevalue("s3_endpoint")
    return replace(
        plain,
        media_s3_endpoint=endpoint,
        media_s3_bucket=BUCKET,
        media_s3_access_key=KEYS["aws_access_key_id"],
        media_s3_secret_key=KEYS["aws_secret_access_key"],
    )


def test_put_stat_read_and_ranges(settings: Settings) -> None:
    files = storage.media(settings)
    data = bytes(range(256)) * 10
    files.put("attachments/1/abc/original.bin", data)
    stat = files.stat("attachments/1/abc/original.bin")
    assert stat is not None
    assert stat.size == len(data)
    reader = files.open("attachments/1/abc/original.bin")
    assert reader is not None
    with reader:
        assert b"".join(iter(lambda: reader.read(100), b"")) == data
    part = files.open("attachments/1/abc/original.bin", 10, 19)
    assert part is not None
    with part:
        assert (part.start, part.length, part.stat.size) == (10, 10, len(data))
        assert part.read() == data[10:20]
    assert files.stat("attachments/1/abc/missing.bin") is None
    assert files.open("attachments/1/abc/missing.bin") is None


def test_delete_one_and_a_folder(settings: Settings, tmp_path: Path) -> None:
    files: Storage = storage.media(settings)
    for name in ("attachments/2/x/original.png", "attachments/2/x/small.jpg", "attachments/3/y/a"):
        files.put(name, b"bytes")
    files.delete("attachments/3/y/a")
    files.delete("attachments/3/y/a")  # gone already: no error
    assert not files.exists("attachments/3/y/a")
    files.delete_folder("attachments/2")
    assert not files.exists("attachments/2/x/original.png")
    assert not files.exists("attachments/2/x/small.jpg")


def test_streams_are_stored_as_sent(settings: Settings, tmp_path: Path) -> None:
    source = tmp_path / "upload"
    source.write_bytes(b"%PDF-1.4 " * 1000)
    with source.open("rb") as stream:
        storage.media(settings).put("attachments/4/z/original.pdf", stream)
    reader = storage.media(settings).open("attachments/4/z/original.pdf")
    assert reader is not None
    with reader:
        assert reader.read(1 << 20) == source.read_bytes()


def test_areas_are_apart_and_keys_stay_inside(settings: Settings) -> None:
    storage.remote(settings).put("ab/abc-1.png", b"remote")
    assert not storage.media(settings).exists("ab/abc-1.png")
    assert storage.remote(settings).exists("ab/abc-1.png")
    for key in ("../secret_key", "/etc/passwd", "a//b", "a/./b", "", "a\\b"):
        assert storage.media(settings).stat(key) is None
        with pytest.raises(storage.InvalidKey):
            storage.media(settings).put(key, b"x")
    storage.media(settings).delete_folder("..")  # refused quietly, nothing removed
    assert storage.remote(settings).exists("ab/abc-1.png")


def test_the_directory_backend_keeps_todays_paths(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    storage.media(settings).put("accounts/avatars/1/f.png", b"png")
    storage.remote(settings).put("ab/abc-1.png", b"remote")
    assert (tmp_path / "media/accounts/avatars/1/f.png").read_bytes() == b"png"
    assert (tmp_path / "remote/ab/abc-1.png").read_bytes() == b"remote"
