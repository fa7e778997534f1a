"""Custom emoji on one node: an admin adds, lists and removes them with the CLI; apps list
them (Mastodon.py's `custom_emojis()`), see them in the `emojis` of statuses and accounts, and
load their images from the node. Bad uploads are refused with a reason and leave nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mastodon import Mastodon

from tests import emoji_kit
from tests.conftest import BACKENDS
from tests.federation_kit import wait_for
from tests.integration.test_web_pages import csrf, signed_in
from tests.kit import (
    RunningNode,
    User,
    running_node,
)


@pytest.fixture(scope="module", params=BACKENDS)
def own_node(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningNode]:
    """A node of its own: the session's shared node promises apps an empty emoji list."""
    backend: str = request.param
    with running_node(tmp_path_factory.mktemp("emoji"), backend) as node:
        yield node


@pytest.fixture
def files(tmp_path: Path) -> Path:
    return tmp_path


def listed(node: RunningNode) -> list[str]:
    return node.cli("emoji", "list").stdout.splitlines()


def api_emojis(node: RunningNode) -> dict[str, dict[str, Any]]:
    answer = httpx.get(node.url + "/api/v1/custom_emojis", timeout=30)
    assert answer.status_code == 200
    return {e["shortcode"]: e for e in answer.json()}


def test_admin_adds_lists_and_removes_an_emoji(own_node: RunningNode, files: Path) -> None:
    image = emoji_kit.png("purple")
    added = own_node.cli(
        "emoji",
        "add",
        "party_parrot",
        emoji_kit.write(files, "parrot.png", image),
        "--category",
        "Birds",
    )
    assert "added :party_parrot:" in added.stdout
    assert any(line.startswith(":party_parrot:  Birds  image/png") for line in listed(own_node))

    emoji = api_emojis(own_node)["party_parrot"]
    assert emoji["category"] == "Birds"
    assert emoji["visible_in_picker"] is True
    assert emoji["url"].startswith(own_node.url + "/emoji/")
    served = httpx.get(emoji["url"], timeout=30)
    assert served.status_code == 200
    assert served.content == image
    assert served.headers["content-type"] == "image/png"
    assert "immutable" in served.headers["cache-control"]
    assert served.headers["x-content-type-options"] == "nosniff"

    own_node.cli("emoji", "remove", "party_parrot")
    assert "party_parrot" not in api_emojis(own_node)
    assert not any("party_parrot" in line for line in listed(own_node))
    assert httpx.get(emoji["url"], timeout=30).status_code == 404
    again = own_node.cli("emoji", "remove", "party_parrot", check=False)
    assert again.returncode != 0
    assert "no emoji :party_parrot:" in again.stderr


def test_an_animated_emoji_has_a_still_image(own_node: RunningNode, files: Path) -> None:
    own_node.cli(
        "emoji", "add", "spinner", emoji_kit.write(files, "s.gif", emoji_kit.animated_gif())
    )
    emoji = api_emojis(own_node)["spinner"]
    assert emoji["url"].endswith(".gif")
    still = httpx.get(emoji["static_url"], timeout=30)
    assert still.status_code == 200
    assert still.headers["content-type"] == "image/png"


@pytest.mark.parametrize(
    ("shortcode", "name", "data", "reason"),
    [
        ("<b>x</b>", "ok.png", emoji_kit.png(), "a shortcode has 2 to 64 letters"),
        ("a", "ok.png", emoji_kit.png(), "a shortcode has 2 to 64 letters"),
        ("colons:here", "ok.png", emoji_kit.png(), "a shortcode has 2 to 64 letters"),
        ("textfile", "looks.png", b"<svg onload=alert(1)>not an image</svg>", "not a PNG, GIF"),
        ("photo", "photo.png", emoji_kit.jpeg(), "not a PNG, GIF or WebP"),
        ("heavy", "heavy.png", emoji_kit.noise_png(), "larger than 256 KB"),
        ("vast", "vast.png", emoji_kit.huge_canvas_png(), "at most 1024x1024"),
        ("empty", "empty.png", b"", "the file is empty"),
    ],
)
def test_a_bad_emoji_is_refused_with_a_reason_and_nothing_is_kept(
    own_node: RunningNode, files: Path, shortcode: str, name: str, data: bytes, reason: str
) -> None:
    result = own_node.cli(
        "emoji", "add", shortcode, emoji_kit.write(files, name, data), check=False
    )
    assert result.returncode != 0
    assert reason in result.stderr
    assert shortcode not in api_emojis(own_node)
    assert not any(line.startswith(f":{shortcode}:") for line in listed(own_node))
    kept = list((own_node.data_dir / "media" / "emoji").glob(f"{shortcode}-*"))
    assert kept == []


def test_a_shortcode_is_taken_once(own_node: RunningNode, files: Path) -> None:
    path = emoji_kit.write(files, "once.png", emoji_kit.png("green"))
    own_node.cli("emoji", "add", "only_once", path)
    second = own_node.cli("emoji", "add", "only_once", path, check=False)
    assert second.returncode != 0
    assert "there is an emoji :only_once: already" in second.stderr


def test_apps_see_emoji_in_statuses_and_profiles(own_node: RunningNode, files: Path) -> None:
    own_node.cli("emoji", "add", "blobcat", emoji_kit.write(files, "b.png", emoji_kit.png()))
    user: User = own_node.create_user("emo")
    api = Mastodon(access_token=user.token, api_base_url=own_node.url)
    picker = {e["shortcode"]: e for e in api.custom_emojis()}
    assert picker["blobcat"]["url"].startswith(own_node.url + "/emoji/")

    posted = api.status_post("Friday :blobcat: :unknown_one: 12:30:45", spoiler_text="cw :blobcat:")
    # Running processes see a CLI change within seconds (the emoji catalogue is re-read).
    shown = wait_for(
        lambda: api.status(posted["id"])["emojis"], "the emoji in the status's `emojis`"
    )
    assert [e["shortcode"] for e in shown] == ["blobcat"]
    assert shown[0]["url"] == picker["blobcat"]["url"]
    assert shown[0]["static_url"] == picker["blobcat"]["static_url"]

    me = api.account_update_credentials(
        display_name="Emo :blobcat:",
        note="Cats :blobcat: only",
        fields=[("Team :blobcat:", "Purring")],
    )
    assert [e["shortcode"] for e in me["emojis"]] == ["blobcat"]
    with signed_in(own_node, user) as browser:
        page = browser.get(f"/@{user.name}/{posted['id']}")
    assert page.status_code == 200
    image = re.compile(r'<img class="emoji" src="/emoji/blobcat-[0-9a-f]+\.png" alt=":blobcat:"')
    assert len(image.findall(page.text)) >= 3  # the name, the content warning, the post
    assert ":unknown_one:" in page.text
    with signed_in(own_node, user) as browser:
        profile = browser.get(f"/@{user.name}")
    assert len(image.findall(profile.text)) >= 3  # the name, the bio, the field


@pytest.mark.parametrize(
    ("shortcode", "data", "reason"),
    [
        ("big_one", bytes(50 * 1024 * 1024), "larger than 256 KB"),
        ("<script>x</script>", emoji_kit.png(), "a shortcode has 2 to 64 letters"),
        ("plain_text", b"just some words", "not a PNG, GIF or WebP"),
    ],
)
def test_the_admin_page_refuses_a_bad_upload_with_422_and_its_reason(
    own_node: RunningNode, shortcode: str, data: bytes, reason: str
) -> None:
    admin = own_node.create_user("boss")
    own_node.cli("user", "role", admin.name, "admin")
    with signed_in(own_node, admin) as browser:
        token = csrf(browser.get("/admin/emoji"))
        answer = browser.post(
            "/admin/emoji",
            data={"csrf_token": token, "shortcode": shortcode},
            files={"image": ("emoji.png", data, "image/png")},
        )
        assert answer.status_code == 422
        assert reason in answer.text
        assert "<script>x" not in answer.text
        assert shortcode not in api_emojis(own_node)
        forged = browser.post(
            "/admin/emoji",
            data={"csrf_token": "forged", "shortcode": "forged_one"},
            files={"image": ("emoji.png", emoji_kit.png(), "image/png")},
        )
        assert forged.status_code == 403
        assert "forged_one" not in api_emojis(own_node)
