"""Media in S3-compatible storage: a node configured with FLURFUNK_MEDIA_S3_* keeps uploads,
previews, avatars and emoji in the bucket (moto's S3 server on loopback, checked with boto3
directly), nothing under DATA_DIR/media, and serves the bytes itself at the same URLs with the
same headers and byte ranges; deleting removes the objects; half a configuration stops the
node at start with a message that names what is missing."""

from __future__ import annotations

import io
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mastodon import Mastodon

from tests import emoji_kit, s3_kit
from tests.integration.test_media import pdf, png
from tests.kit import FLURFUNK, RunningNode, User, running_node
from tests.s3_kit import bucket_client, moto_server, names, s3_env

PDF = pdf(pages=1)
BUCKET = "flurfunk-media"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_server(BUCKET) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def s3_node(s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNode]:
    env = s3_env(s3_endpoint, BUCKET)
    with running_node(tmp_path_factory.mktemp("s3"), "sqlite", **env) as node:
        yield node


@pytest.fixture
def bucket(s3_endpoint: str) -> Any:
    return bucket_client(s3_endpoint)


def stored(bucket: Any, key: str) -> bytes | None:
    return s3_kit.stored(bucket, BUCKET, key)


def key_of(node: RunningNode, url: str, prefix: str = "/media/") -> str:
    """The object behind a URL of the node: the bucket mirrors DATA_DIR."""
    assert url.startswith(node.url + prefix)
    path = url.split("?", 1)[0]  # an upload's URL is signed for its owner
    return "media/" + path.removeprefix(node.url + "/media/").removeprefix(node.url + "/")


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def client(node: RunningNode, user: User) -> Mastodon:
    return Mastodon(access_token=user.token, api_base_url=node.url)


def test_an_upload_lands_in_the_bucket_and_the_node_serves_it(
    s3_node: RunningNode, bucket: Any
) -> None:
    alice = s3_node.create_user("alice")
    media = client(s3_node, alice).media_post(png(), mime_type="image/png", description="Blau")
    original, preview = key_of(s3_node, media.url), key_of(s3_node, media.preview_url)
    kept = stored(bucket, original)
    assert kept is not None
    assert kept.startswith(b"\x89PNG")
    assert stored(bucket, preview) is not None
    assert files_under(s3_node.data_dir / "media") == []

    served = httpx.get(media.url, timeout=30)
    assert served.status_code == 200
    assert served.content == kept
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["content-security-policy"].startswith("default-src 'none'")
    assert served.headers["content-disposition"] == "inline"
    assert served.headers["accept-ranges"] == "bytes"
    assert int(served.headers["content-length"]) == len(kept)

    part = httpx.get(media.url, headers={"Range": "bytes=10-109"}, timeout=30)
    assert part.status_code == 206
    assert part.content == kept[10:110]
    assert part.headers["content-range"] == f"bytes 10-109/{len(kept)}"
    assert part.headers["content-type"] == "image/png"
    tail = httpx.get(media.url, headers={"Range": "bytes=-16"}, timeout=30)
    assert (tail.status_code, tail.content) == (206, kept[-16:])
    beyond = httpx.get(media.url, headers={"Range": f"bytes={len(kept)}-"}, timeout=30)
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(kept)}"

    again = httpx.get(media.url, headers={"If-None-Match": served.headers["etag"]}, timeout=30)
    assert again.status_code == 304
    head = httpx.head(media.url, timeout=30)
    assert (head.status_code, head.content) == (200, b"")
    assert int(head.headers["content-length"]) == len(kept)
    assert httpx.get(media.preview_url, timeout=30).status_code == 200


def test_a_document_is_served_as_a_download_and_missing_keys_are_404(
    s3_node: RunningNode, bucket: Any
) -> None:
    alice = s3_node.create_user("alice")
    media = client(s3_node, alice).media_post(
        PDF, mime_type="application/pdf", file_name="q.pdf", synchronous=True
    )
    assert stored(bucket, key_of(s3_node, media.url)) == PDF
    served = httpx.get(media.url, timeout=30)
    assert served.content == PDF
    assert served.headers["content-type"] == "application/pdf"
    assert served.headers["content-disposition"] == "attachment"
    assert served.headers["x-content-type-options"] == "nosniff"

    for path in (
        "/media/attachments/1/nothing/original.png",
        "/media/attachments/../secret_key",
        "/emoji/nothing.png",
    ):
        assert httpx.get(s3_node.url + path, timeout=30).status_code == 404


def test_deleting_a_post_with_its_media_and_an_unattached_upload_removes_the_objects(
    s3_node: RunningNode, bucket: Any
) -> None:
    alice = s3_node.create_user("alice")
    api = client(s3_node, alice)
    media = api.media_post(png(64, 64), mime_type="image/png")
    post = api.status_post("Mit Bild", media_ids=[media.id])
    keys = [key_of(s3_node, media.url), key_of(s3_node, media.preview_url)]
    assert all(stored(bucket, k) is not None for k in keys)

    api.status_delete(post.id, delete_media=True)
    assert [stored(bucket, k) for k in keys] == [None, None]
    assert httpx.get(media.url, timeout=30).status_code == 404

    spare = api.media_post(png(32, 32), mime_type="image/png")
    assert stored(bucket, key_of(s3_node, spare.url)) is not None
    assert s3_node.api(alice, "DELETE", f"/api/v1/media/{spare.id}").status_code == 200
    assert stored(bucket, key_of(s3_node, spare.url)) is None


def test_avatar_round_trip(s3_node: RunningNode, bucket: Any) -> None:
    alice = s3_node.create_user("alice")
    api = client(s3_node, alice)
    first = api.account_update_credentials(avatar=png(120, 120), avatar_mime_type="image/png")
    first_key = key_of(s3_node, first.avatar)
    kept = stored(bucket, first_key)
    assert kept is not None
    served = httpx.get(first.avatar, timeout=30)
    assert (served.status_code, served.content) == (200, kept)
    assert served.headers["content-type"] == "image/png"

    second = api.account_update_credentials(avatar=png(90, 90), avatar_mime_type="image/png")
    assert stored(bucket, key_of(s3_node, second.avatar)) is not None
    assert stored(bucket, first_key) is None  # the replaced avatar went
    assert httpx.get(first.avatar, timeout=30).status_code == 404
    assert files_under(s3_node.data_dir / "media") == []


def test_emoji_round_trip(s3_node: RunningNode, bucket: Any, tmp_path: Path) -> None:
    image = emoji_kit.png("purple")
    s3_node.cli("emoji", "add", "s3_parrot", emoji_kit.write(tmp_path, "parrot.png", image))
    listed = httpx.get(s3_node.url + "/api/v1/custom_emojis", timeout=30).json()
    url = next(e["url"] for e in listed if e["shortcode"] == "s3_parrot")
    key = key_of(s3_node, url, "/emoji/")
    assert stored(bucket, key) == image
    served = httpx.get(url, timeout=30)
    assert (served.status_code, served.content) == (200, image)
    assert served.headers["content-type"] == "image/png"
    assert "immutable" in served.headers["cache-control"]
    assert served.headers["x-content-type-options"] == "nosniff"

    s3_node.cli("emoji", "remove", "s3_parrot")
    assert stored(bucket, key) is None
    assert httpx.get(url, timeout=30).status_code == 404


def test_an_investigation_export_holds_the_files_from_the_bucket(
    s3_node: RunningNode, tmp_path: Path
) -> None:
    alice = s3_node.create_user("alice")
    api = client(s3_node, alice)
    media = api.media_post(
        PDF, mime_type="application/pdf", file_name="bericht.pdf", synchronous=True
    )
    api.status_post("Bericht anbei", media_ids=[media.id])
    out = tmp_path / "export.zip"
    s3_node.cli("export", "account", alice.name, "--out", str(out))
    with zipfile.ZipFile(out) as archive:
        inside = [n for n in archive.namelist() if n.startswith("media_attachments/")]
        assert len(inside) == 1
        assert archive.read(inside[0]) == PDF


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        ({"FLURFUNK_MEDIA_S3_ENDPOINT": "http://127.0.0.1:9"}, "FLURFUNK_MEDIA_S3_BUCKET"),
        ({"FLURFUNK_MEDIA_S3_BUCKET": BUCKET}, "FLURFUNK_MEDIA_S3_ENDPOINT"),
        (
            {"FLURFUNK_MEDIA_S3_ENDPOINT": "http://127.0.0.1:9", "FLURFUNK_MEDIA_S3_BUCKET": "b"},
            "FLURFUNK_MEDIA_S3_SECRET_KEY",
        ),
    ],
)
def test_half_a_configuration_stops_the_node_at_start(
    tmp_path: Path, given: dict[str, str], missing: str
) -> None:
    node = RunningNode(
        data_dir=tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path / 'f.db'}", extra_env=given
    )
    started = subprocess.run(
        [FLURFUNK, "serve", "--port", str(node.port)],
        env=node.env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert started.returncode != 0
    assert missing in started.stderr
    assert "half-configured" in started.stderr


def test_the_bucket_mirrors_data_dir(s3_node: RunningNode, bucket: Any) -> None:
    """Every object is under media/ or remote/, as the files are under DATA_DIR."""
    alice = s3_node.create_user("alice")
    client(s3_node, alice).media_post(io.BytesIO(png(16, 16)), mime_type="image/png")
    listed = names(bucket, BUCKET)
    assert listed
    assert all(n.startswith(("media/", "remote/")) for n in listed)
