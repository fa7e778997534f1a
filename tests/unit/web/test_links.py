"""Which remote file URLs apps are given: this node's copy of files whose host the allowlist
admits now (never the other host's URL), else a placeholder."""

from __future__ import annotations

import pytest

from federation.allowlist import Allowlist
from models.remote_file import key_of
from models.settings import Settings
from models.status import MediaAttachment
from web.api.serializers import Links, media

NODE = "https://hq.corp.example"
PLACEHOLDER = NODE + "/static/avatar.png"
links = Links(Settings(public_url=NODE), Allowlist(["media.corp.example", "*.sales.example"]))


@pytest.mark.parametrize(
    "url",
    [
        "https://media.corp.example/a.png",
        "http://media.corp.example:8080/a.png",
        "https://cdn.sales.example/a.png",
        "https://MEDIA.corp.example/a.png",
        "https://user@media.corp.example/a.png",
    ],
)
def test_files_on_allowed_hosts_are_served_from_this_node(url: str) -> None:
    assert links.remote(url, "/static/avatar.png") == f"{NODE}/media/remote/{key_of(url)}"
    assert links.allowed(url) == url


@pytest.mark.parametrize(
    "url",
    [
        None,
        "",
        "http://127.0.0.1:8650/steal.png",
        "https://evil.example/a.png",
        "https://sales.example/a.png",  # *.sales.example is its subdomains only
        "https://media.corp.example@evil.example/a.png",
        "http://evil.example\\@media.corp.example/a.png",  # browsers go to evil.example
        "http://evil.example /@media.corp.example/a.png",
        "http://[::1/a.png",
        "javascript:alert(1)//media.corp.example",
        "//media.corp.example/a.png",
        "https://media.corp.example.evil.example/a.png",
        "https://m\u0435dia.corp.example/a.png",  # a Cyrillic e
    ],
)
def test_other_files_become_the_placeholder(url: str | None) -> None:
    assert links.remote(url, "/static/avatar.png") == PLACEHOLDER
    assert links.allowed(url) is None


def attachment(remote_url: str, kind: str = "image") -> MediaAttachment:
    return MediaAttachment(
        id=7, type=kind, remote_url=remote_url, meta={}, description="a chart", file_size=0
    )


def test_an_attachment_on_an_allowed_host_is_shown_from_this_nodes_copy() -> None:
    origin = "https://media.corp.example/chart.png"
    shown = media(attachment(origin), links)
    assert shown["type"] == "image"
    assert shown["url"] == shown["preview_url"] == f"{NODE}/media/remote/{key_of(origin)}"
    assert shown["remote_url"] == origin


def test_an_attachment_elsewhere_is_the_placeholder_without_a_way_there() -> None:
    shown = media(attachment("http://127.0.0.1:8650/clip.mp4", "video"), links)
    assert shown["type"] == "unknown"
    assert shown["url"] == shown["preview_url"] == NODE + "/static/missing.png"
    assert shown["remote_url"] is None
    assert shown["description"] == "a chart"
