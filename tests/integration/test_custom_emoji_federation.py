"""Custom emoji between real nodes, and from a hostile one.

A post with a custom emoji on hq arrives on sales with the emoji, and sales serves its image
itself (an app or browser on sales never loads hq's URL). From mallory's fake node come emoji
that must never be fetched (a shortcode carrying HTML, an image on a host that is not allowed,
one named by IP address) or never be shown (50 MB, not an image, a declared type that is no
image type); its one good emoji is fetched and shown like hq's.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests import emoji_kit
from tests.federation_kit import (
    PUBLIC,
    FakeActor,
    FedNode,
    Plan,
    arrives,
    follows,
    network,
    notified,
    peer_in_thread,
    post,
    remote_account,
    status,
    wait_for,
)
from tests.integration.test_web_pages import signed_in
from tests.kit import User
from tests.peer import FakePeer

MALLORY = "mallory.flurfunk.test"
EVIL = "evil.flurfunk.test"


@dataclass
class Scene:
    hq: FedNode
    sales: FedNode
    remote: FakePeer
    evil_socket: FakePeer
    mallory: FakeActor


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    with peer_in_thread() as remote, peer_in_thread() as evil_socket:
        mallory = FakeActor.generate(MALLORY, "mallory")
        mallory.publish(remote)
        plans = {
            "hq": Plan(
                allow=("sales", MALLORY),
                stand_ins={MALLORY: remote.port, EVIL: evil_socket.port},
            ),
            "sales": Plan(allow=("hq",)),
        }
        with network(tmp_path_factory.mktemp("emoji-fed"), "sqlite", plans) as net:
            yield Scene(net["hq"], net["sales"], remote, evil_socket, mallory)


def shortcodes(entity: dict[str, Any]) -> list[str]:
    return [e["shortcode"] for e in entity["emojis"]]


def test_a_post_with_an_emoji_arrives_with_the_emoji_served_by_the_receiving_node(
    scene: Scene, tmp_path: Path
) -> None:
    hq, sales = scene.hq, scene.sales
    image = emoji_kit.png("teal")
    hq.cli("emoji", "add", "blobcat", emoji_kit.write(tmp_path, "blobcat.png", image))
    anna = hq.create_user("anna")
    hq.api(
        anna,
        "PATCH",
        "/api/v1/accounts/update_credentials",
        data={"display_name": "Anna :blobcat:"},
    ).raise_for_status()
    bert = sales.create_user("bert")
    follows(sales, bert, hq, anna)

    sent = post(hq, anna, "Coffee :blobcat: in the kitchen")
    # hq's own view (its catalogue may lag a CLI change by a moment).
    wait_for(lambda: shortcodes(status(hq, anna, sent["id"]).json()), "the emoji on hq")
    arrived = arrives(sales, bert, sent["uri"])

    def fetched() -> list[dict[str, Any]]:
        return list(status(sales, bert, arrived["id"]).json()["emojis"])

    emojis = wait_for(fetched, "sales showing hq's emoji once it fetched the image")
    assert [e["shortcode"] for e in emojis] == ["blobcat"]
    url = emojis[0]["url"]
    assert url.startswith(sales.public_url + "/emoji/"), url
    assert emojis[0]["visible_in_picker"] is False
    copy = httpx.get(sales.url + url.removeprefix(sales.public_url), timeout=30)
    assert copy.status_code == 200
    assert copy.content == image
    assert copy.headers["content-type"] == "image/png"
    # Remote emoji are not offered in sales's own picker.
    assert httpx.get(sales.url + "/api/v1/custom_emojis", timeout=30).json() == []

    # The Note as any allowed node fetches it carries the emoji as Mastodon sends it.
    path = sent["uri"].removeprefix(hq.public_url)
    note = scene.mallory.get(hq, path).json()
    (tag,) = [t for t in note["tag"] if t["type"] == "Emoji"]
    assert tag["name"] == ":blobcat:"
    assert tag["icon"]["mediaType"] == "image/png"
    assert tag["icon"]["url"].startswith(hq.public_url + "/emoji/blobcat-")
    original = httpx.get(hq.url + urlsplit(tag["icon"]["url"]).path, timeout=30)
    assert original.content == image
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", tag["updated"])
    emoji_object = scene.mallory.get(hq, tag["id"].removeprefix(hq.public_url)).json()
    assert emoji_object["type"] == "Emoji"
    assert emoji_object["icon"] == tag["icon"]
    assert "toot" in str(emoji_object["@context"])

    account = remote_account(sales, bert, hq, anna)
    if not account["emojis"]:  # the actor was stored before the image was fetched
        account = wait_for(
            lambda: (a := remote_account(sales, bert, hq, anna))["emojis"] and a,
            "anna's name showing the emoji on sales",
        )
    assert shortcodes(account) == ["blobcat"]
    assert account["emojis"][0]["url"].startswith(sales.public_url + "/emoji/")


def test_hostile_emoji_are_never_fetched_or_never_shown(scene: Scene) -> None:
    hq, remote, mallory = scene.hq, scene.remote, scene.mallory
    alice: User = hq.create_user("alice")
    good = emoji_kit.png("gold")
    base = f"http://{MALLORY}/emoji"
    served = {
        "/emoji/good.png": (good, "image/png"),
        "/emoji/huge.png": (bytes(50 * 1024 * 1024), "image/png"),
        "/emoji/text.png": (b"I am not an image", "image/png"),
        "/emoji/typed.png": (emoji_kit.png("red"), "text/html"),
        "/emoji/html.png": (emoji_kit.png("blue"), "image/png"),
        "/emoji/ip.png": (emoji_kit.png("blue"), "image/png"),
    }
    for path, (body, kind) in served.items():
        remote.answer(path, 200, body, content_type=kind)

    def emoji(name: str, url: str, kind: str = "image/png") -> dict[str, Any]:
        return {
            "id": f"http://{MALLORY}/emojis/{secrets.token_hex(3)}",
            "type": "Emoji",
            "name": name,
            "updated": "2026-12-01T00:00:00Z",
            "icon": {"type": "Image", "mediaType": kind, "url": url},
        }

    alice_uri = hq.actor_uri(alice)
    note = {
        "id": f"{mallory.uri}/statuses/{secrets.token_hex(6)}",
        "type": "Note",
        "attributedTo": mallory.uri,
        "content": (
            f"<p>@{alice.name} :good: :huge: :text: :typed: :evil: :iplit: "
            ":<img src=x onerror=alert(1)>:</p>"
        ),
        "to": [PUBLIC, alice_uri],
        "tag": [
            {"type": "Mention", "href": alice_uri, "name": f"@{alice.name}@{hq.domain}"},
            emoji(":good:", f"{base}/good.png"),
            emoji(":huge:", f"{base}/huge.png"),
            emoji(":text:", f"{base}/text.png"),
            emoji(":typed:", f"{base}/typed.png"),
            emoji(":<img src=x onerror=alert(1)>:", f"{base}/html.png"),
            emoji(":evil:", f"http://{EVIL}/emoji/evil.png"),
            emoji(":iplit:", f"http://127.0.0.1:{remote.port}/emoji/ip.png"),
        ],
    }
    answer = mallory.post(hq, mallory.activity("Create", note, to=[PUBLIC, alice_uri]))
    assert answer.status_code == 202, answer.text

    by = f"mallory@{MALLORY}"
    found = wait_for(lambda: notified(hq, alice, "mention", by, note["id"]), "mallory's mention")
    status_id = found[0]["status"]["id"]

    def requested(path: str) -> bool:
        return any(r.path == path for r in remote.received)

    wait_for(
        lambda: all(requested(f"/emoji/{n}.png") for n in ("good", "huge", "text", "typed")),
        "hq asking mallory's node for the four emoji images on an allowed host",
    )
    shown = wait_for(
        lambda: status(hq, alice, status_id).json()["emojis"], "the good emoji shown on hq"
    )
    assert [e["shortcode"] for e in shown] == ["good"]
    copy = httpx.get(hq.url + shown[0]["url"].removeprefix(hq.public_url), timeout=30)
    assert copy.content == good

    assert not requested("/emoji/html.png")  # its shortcode was dropped
    assert not requested("/emoji/ip.png")  # named by address
    assert scene.evil_socket.connections == 0  # not on the allowlist

    with signed_in(hq, alice) as browser:
        page = browser.get(f"/@{by}/{status_id}")
    assert page.status_code == 200
    assert re.search(r'<img class="emoji" src="/emoji/good-[0-9a-f]+\.png" alt=":good:"', page.text)
    assert "onerror" not in page.text
    for refused in ("huge", "text", "typed", "evil", "iplit"):
        assert f'alt=":{refused}:"' not in page.text
        assert f":{refused}:" in page.text  # shown as the text it is


def test_a_changed_remote_emoji_is_fetched_again(scene: Scene) -> None:
    hq, remote, mallory = scene.hq, scene.remote, scene.mallory
    carol: User = hq.create_user("carol")
    carol_uri = hq.actor_uri(carol)
    by = f"mallory@{MALLORY}"

    def mention(image_path: str) -> str:
        """mallory mentions carol with :logo: drawn by `image_path`; the status id on hq."""
        note_id = f"{mallory.uri}/statuses/{secrets.token_hex(6)}"
        note = {
            "id": note_id,
            "type": "Note",
            "attributedTo": mallory.uri,
            "content": f"<p>@{carol.name} :logo:</p>",
            "to": [PUBLIC, carol_uri],
            "tag": [
                {"type": "Mention", "href": carol_uri, "name": f"@{carol.name}@{hq.domain}"},
                {
                    "type": "Emoji",
                    "name": ":logo:",
                    "icon": {"type": "Image", "url": f"http://{MALLORY}{image_path}"},
                },
            ],
        }
        answer = mallory.post(hq, mallory.activity("Create", note, to=[PUBLIC, carol_uri]))
        assert answer.status_code == 202, answer.text
        found = wait_for(lambda: notified(hq, carol, "mention", by, note_id), "the mention")
        return str(found[0]["status"]["id"])

    def logo_url(status_id: str) -> str | None:
        emojis = status(hq, carol, status_id).json()["emojis"]
        return str(emojis[0]["url"]) if emojis else None

    def served(url: str) -> bytes:
        return httpx.get(hq.url + url.removeprefix(hq.public_url), timeout=30).content

    old_logo, new_logo = emoji_kit.png("red"), emoji_kit.png("green")
    remote.answer("/emoji/logo-1.png", 200, old_logo, content_type="image/png")
    remote.answer("/emoji/logo-2.png", 200, new_logo, content_type="image/png")
    first_id = mention("/emoji/logo-1.png")
    first = wait_for(lambda: logo_url(first_id), "the first image of :logo:")
    assert served(first) == old_logo

    second_id = mention("/emoji/logo-2.png")
    second = wait_for(
        lambda: (url := logo_url(second_id)) != first and url, "the new image of :logo:"
    )
    assert served(second) == new_logo
    # One emoji per shortcode and node: the older post shows the new image too.
    assert logo_url(first_id) == second
    old = httpx.get(hq.url + first.removeprefix(hq.public_url), timeout=30)
    assert old.status_code == 404  # the replaced copy is gone
