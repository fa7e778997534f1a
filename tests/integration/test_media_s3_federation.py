"""Two nodes, each with its own bucket on moto's S3 server: an attachment posted on sales is
served from sales's bucket to hq's fetcher, and hq keeps its copy in its own bucket (under
`remote/`, as DATA_DIR/remote would hold it) and serves it itself; neither node writes media
under DATA_DIR."""

from __future__ import annotations

import io
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests import s3_kit
from tests.federation_kit import FedNode, Plan, arrives, follows, network, post, wait_for
from tests.kit import User

HQ_BUCKET, SALES_BUCKET = "hq-media", "sales-media"


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, FedNode, FedNode]]:
    with s3_kit.moto_server(HQ_BUCKET, SALES_BUCKET) as endpoint:
        plans = {
            "hq": Plan(allow=("sales",), env=s3_kit.s3_env(endpoint, HQ_BUCKET)),
            "sales": Plan(allow=("hq",), env=s3_kit.s3_env(endpoint, SALES_BUCKET)),
        }
        with network(tmp_path_factory.mktemp("s3fed"), "sqlite", plans) as net:
            yield endpoint, net["hq"], net["sales"]


def png(color: str, size: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buffer, "PNG")
    return buffer.getvalue()


def local_get(node: FedNode, url: str) -> httpx.Response:
    assert url.startswith(node.public_url + "/"), url
    return httpx.get(node.url + url.removeprefix(node.public_url), timeout=30)


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_a_remote_attachment_is_copied_into_the_receiving_nodes_bucket(
    nodes: tuple[str, FedNode, FedNode],
) -> None:
    endpoint, hq, sales = nodes
    anna: User = hq.create_user("anna")
    bert: User = sales.create_user("bert")
    uploaded = sales.api(
        bert, "POST", "/api/v2/media", files={"file": ("chart.png", png("navy", 120), "image/png")}
    ).json()
    follows(hq, anna, sales, bert)
    sent = post(sales, bert, "Chart " + secrets.token_hex(3), media_ids=[uploaded["id"]])
    (media,) = arrives(hq, anna, sent["uri"])["media_attachments"]
    assert media["url"].startswith(hq.public_url + "/media/remote/")
    copy = wait_for(
        lambda: (r := local_get(hq, media["url"])).status_code == 200 and r, "hq's copy"
    )
    assert copy.headers["content-type"] == "image/png"
    assert copy.headers["x-content-type-options"] == "nosniff"
    assert Image.open(io.BytesIO(copy.content)).size == (120, 120)

    bucket = s3_kit.bucket_client(endpoint)
    remote = s3_kit.names(bucket, HQ_BUCKET, "remote/")
    assert [s3_kit.stored(bucket, HQ_BUCKET, name) for name in remote] == [copy.content]
    part = httpx.get(
        hq.url + media["url"].removeprefix(hq.public_url), headers={"Range": "bytes=0-7"}
    )
    assert (part.status_code, part.content) == (206, copy.content[:8])
    assert s3_kit.names(bucket, SALES_BUCKET, "media/attachments/")
    for node in (hq, sales):
        assert files_under(node.data_dir / "media") == []
        assert files_under(node.data_dir / "remote") == []
