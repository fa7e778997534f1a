"""Link previews and remote media between real nodes.

hq may preview links to the intranet wiki (`wiki.corp.test`, a small real HTTP server on
loopback, on FLURFUNK_PREVIEW_HOSTS); sales may not reach it at all. A link to the wiki yields
a card on both nodes — sales gets it with the post, image included, from hq. Links anywhere
else (a host not listed, 127.0.0.1 on another port, a redirect out of the wiki) are routed to
sockets that count connections: they must stay at zero. Attachments and avatars from the
other node are served by the receiving node itself, and vanish (404) when the origin host is
removed from the allowlist.
"""

from __future__ import annotations

import io
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
from PIL import Image
from websockets.sync.client import connect

from tests.federation_kit import (
    FedNode,
    Plan,
    arrives,
    follows,
    network,
    peer_in_thread,
    post,
    remote_account,
    wait_for,
)
from tests.integration.test_media import ODT, odt, pdf
from tests.integration.test_web_pages import signed_in
from tests.kit import User
from tests.peer import FakePeer
from tests.stream_kit import client, frames, ws_url
from web.ui.formats import file_size

WIKI = "wiki.corp.test"
SLOW = "slow.corp.test"
OUTSIDE = "outside.corp.test"  # routed to a counting socket, listed nowhere
CARD_FIELDS = {
    "url", "title", "description", "type", "author_name", "author_url", "provider_name",
    "provider_url", "html", "width", "height", "image", "image_description", "embed_url",
    "blurhash", "published_at", "authors",
}  # fmt: skip


def png(color: str, size: int = 64) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buffer, "PNG")
    return buffer.getvalue()


def page(head: str) -> bytes:
    return f"<!doctype html><html><head>{head}</head><body>x</body></html>".encode()


@dataclass
class Scene:
    hq: FedNode
    sales: FedNode
    wiki: FakePeer
    slow: FakePeer
    outside: FakePeer  # OUTSIDE routes here
    loopback: FakePeer  # reached as 127.0.0.1:<port>, listed nowhere
    anna: User
    bert: User


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def scene(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Scene]:
    with (
        peer_in_thread() as wiki,
        peer_in_thread() as slow,
        peer_in_thread() as outside,
        peer_in_thread() as loopback,
    ):
        routes = {WIKI: wiki.port, SLOW: slow.port, OUTSIDE: outside.port}
        plans = {
            "hq": Plan(
                allow=("sales",),
                stand_ins=routes,
                env={"FLURFUNK_PREVIEW_HOSTS": f"{WIKI},{SLOW}"},
            ),
            "sales": Plan(allow=("hq",), stand_ins=routes),
        }
        tmp = tmp_path_factory.mktemp("previews")
        with network(tmp, request.param, plans) as net:
            hq, sales = net["hq"], net["sales"]
            anna, bert = hq.create_user("anna"), sales.create_user("bert")
            follows(sales, bert, hq, anna)
            try:
                yield Scene(hq, sales, wiki, slow, outside, loopback, anna, bert)
            finally:
                slow.release()


def serve_page(peer: FakePeer, path: str, body: bytes, kind: str = "text/html") -> str:
    peer.answer(path, 200, body, content_type=kind)
    return f"http://{WIKI}{path}"


def card_of(node: FedNode, user: User, status_id: str) -> dict[str, Any] | None:
    found = client(node, user).status(status_id)
    return dict(found["card"]) if found.get("card") else None


def local_get(node: FedNode, url: str) -> httpx.Response:
    """GET a URL the node handed out (built from its public URL) on its loopback port."""
    assert url.startswith(node.public_url + "/"), url
    return httpx.get(node.url + url.removeprefix(node.public_url), timeout=30)


def requests_for(peer: FakePeer, path: str) -> int:
    return sum(1 for r in list(peer.received) if r.path.split("?")[0] == path)


def test_a_link_to_the_intranet_wiki_yields_a_card_on_both_nodes(scene: Scene) -> None:
    hq, sales, wiki = scene.hq, scene.sales, scene.wiki
    image = png("teal")
    wiki.answer("/img/plan.png", 200, image, content_type="image/png")
    link = serve_page(
        wiki,
        "/plan",
        page(
            "<title>Plan (fallback)</title>"
            '<meta property="og:title" content="Quarterly plan">'
            '<meta property="og:description" content="What we ship in Q1">'
            '<meta property="og:image" content="/img/plan.png">'
            '<meta property="og:image:alt" content="A teal square">'
            '<meta property="og:site_name" content="Corp Wiki">'
        ),
    )
    sent = post(hq, scene.anna, f"Read the plan: {link}")

    card = wait_for(lambda: card_of(hq, scene.anna, sent["id"]), "the card on hq")
    assert set(card) >= CARD_FIELDS
    assert (card["title"], card["description"]) == ("Quarterly plan", "What we ship in Q1")
    assert (card["type"], card["provider_name"], card["url"]) == ("link", "Corp Wiki", link)
    assert card["image_description"] == "A teal square"
    assert card["image"].startswith(hq.public_url + "/media/remote/")
    copy = wait_for(lambda: (r := local_get(hq, card["image"])).status_code == 200 and r, "image")
    assert copy.headers["content-type"] == "image/png"
    assert copy.headers["x-content-type-options"] == "nosniff"

    arrived = arrives(sales, scene.bert, sent["uri"])
    theirs = wait_for(lambda: card_of(sales, scene.bert, arrived["id"]), "the card on sales")
    assert set(theirs) >= CARD_FIELDS
    assert (theirs["title"], theirs["description"]) == ("Quarterly plan", "What we ship in Q1")
    assert theirs["url"] == link
    assert theirs["image"].startswith(sales.public_url + "/media/remote/")
    their_copy = wait_for(
        lambda: (r := local_get(sales, theirs["image"])).status_code == 200 and r,
        "sales serving its copy of the image",
    )
    Image.open(io.BytesIO(their_copy.content)).verify()
    # Only hq ever asked the wiki: sales had everything from hq.
    assert requests_for(wiki, "/plan") == 1
    assert requests_for(wiki, "/img/plan.png") == 1

    # The post's page shows the card, in German too, and on sales with sales's image copy.
    with signed_in(hq, scene.anna) as browser:
        shown = browser.get(f"/@{scene.anna.name}/{sent['id']}").text
        german = browser.get(
            f"/@{scene.anna.name}/{sent['id']}", headers={"accept-language": "de"}
        ).text
    assert 'class="link-card"' in shown
    assert "Quarterly plan" in shown
    assert "What we ship in Q1" in shown
    assert "Corp Wiki" in shown
    assert "Linkvorschau: Quarterly plan" in german
    with signed_in(sales, scene.bert) as browser:
        theirs_shown = browser.get(f"/@{hq.handle(scene.anna)}/{arrived['id']}").text
    assert "Quarterly plan" in theirs_shown
    assert theirs["image"].removeprefix(sales.public_url) in theirs_shown


def test_an_edit_to_another_link_gets_a_new_card(scene: Scene) -> None:
    hq, sales = scene.hq, scene.sales
    first = serve_page(scene.wiki, "/first", page("<title>First page</title>"))
    second = serve_page(scene.wiki, "/second", page("<title>Second page</title>"))
    sent = post(hq, scene.anna, f"See {first}")
    wait_for(lambda: card_of(hq, scene.anna, sent["id"]), "the first card")
    hq.api(scene.anna, "PUT", f"/api/v1/statuses/{sent['id']}", json={"status": f"See {second}"})
    wait_for(
        lambda: (c := card_of(hq, scene.anna, sent["id"])) and c["title"] == "Second page",
        "the second card on hq",
    )
    arrived = arrives(sales, scene.bert, sent["uri"])
    wait_for(
        lambda: (c := card_of(sales, scene.bert, arrived["id"])) and c["title"] == "Second page",
        "the second card on sales",
    )


def test_links_elsewhere_cause_no_connection_at_all(scene: Scene) -> None:
    hq, wiki = scene.hq, scene.wiki
    wiki.answer("/moved", 302, b"", location=f"http://{OUTSIDE}/landing")
    refused = [
        post(hq, scene.anna, f"Outside: http://{OUTSIDE}/page"),
        post(hq, scene.anna, f"Loopback: http://127.0.0.1:{scene.loopback.port}/admin"),
        post(hq, scene.anna, f"Moved: http://{WIKI}/moved"),
    ]
    # A link posted after them gets its card: the fetcher has dealt with those before.
    after = serve_page(wiki, "/after", page("<title>After</title>"))
    later = post(hq, scene.anna, f"Later: {after}")
    wait_for(lambda: card_of(hq, scene.anna, later["id"]), "the card of the later post")
    assert requests_for(wiki, "/moved") == 1  # the wiki was asked; its redirect was not followed
    assert scene.outside.connections == 0
    assert scene.loopback.connections == 0
    for sent in refused:
        assert card_of(hq, scene.anna, sent["id"]) is None


def test_hostile_metadata_is_cleaned_or_refused(scene: Scene) -> None:
    hq, wiki = scene.hq, scene.wiki
    wiki.answer(
        "/oembed",
        200,
        orjson.dumps(
            {
                "type": "rich",
                "title": "<script>steal()</script>Embedded",
                "html": "<script>steal()</script><div onclick='steal()'>hi</div>",
                "author_url": "javascript:steal()",
            }
        ),
        content_type="application/json",
    )
    hostile = serve_page(
        wiki,
        "/hostile",
        page(
            '<meta property="og:title" content="&lt;script&gt;steal()&lt;/script&gt;Plan">'
            '<meta property="og:image" content="javascript:steal()">'
            '<link rel="alternate" type="application/json+oembed" href="/oembed">'
        ),
    )
    huge = serve_page(wiki, "/huge", page("<title>Huge</title>" + "<!-- x -->" * 300_000))
    sent = post(hq, scene.anna, f"Hostile: {hostile}")
    too_big = post(hq, scene.anna, f"Huge: {huge}")
    card = wait_for(lambda: card_of(hq, scene.anna, sent["id"]), "the hostile page's card")
    assert card["title"] == "Embedded"
    assert card["image"] is None
    assert card["html"] == ""
    assert card["type"] == "link"
    assert card["author_url"] == ""
    assert "<" not in orjson.dumps(card).decode()
    after = serve_page(wiki, "/after-huge", page("<title>After huge</title>"))
    later = post(hq, scene.anna, f"Later: {after}")
    wait_for(lambda: card_of(hq, scene.anna, later["id"]), "the card of the later post")
    assert requests_for(wiki, "/huge") == 1
    assert card_of(hq, scene.anna, too_big["id"]) is None


def test_a_slow_site_does_not_hold_up_the_inbox_or_later_previews(scene: Scene) -> None:
    hq, sales, slow = scene.hq, scene.sales, scene.slow
    scene.slow.hold()
    stuck = post(hq, scene.anna, f"Slow: http://{SLOW}/page")
    wait_for(lambda: requests_for(slow, "/page"), "hq asking the slow site")
    # While the slow site keeps hq waiting, a post from sales is received and shown.
    follows(hq, scene.anna, sales, scene.bert)
    news = post(sales, scene.bert, "News from sales")
    arrives(hq, scene.anna, news["uri"])
    after = serve_page(scene.wiki, "/after-slow", page("<title>After slow</title>"))
    later = post(hq, scene.anna, f"Later: {after}")
    wait_for(lambda: card_of(hq, scene.anna, later["id"]), "a later card", timeout=60)
    assert card_of(hq, scene.anna, stuck["id"]) is None


def test_remote_attachments_and_avatars_are_served_by_the_receiving_node(scene: Scene) -> None:
    hq, sales = scene.hq, scene.sales
    bert = sales.create_user("bert")
    avatar = png("orange", 96)
    sales.api(
        bert,
        "PATCH",
        "/api/v1/accounts/update_credentials",
        files={"avatar": ("me.png", avatar, "image/png")},
    ).raise_for_status()
    uploaded = sales.api(
        bert,
        "POST",
        "/api/v2/media",
        files={"file": ("chart.png", png("navy", 120), "image/png")},
        data={"description": "a chart"},
    ).json()
    follows(hq, scene.anna, sales, bert)
    sent = post(sales, bert, "The chart " + secrets.token_hex(3), media_ids=[uploaded["id"]])
    arrived = arrives(hq, scene.anna, sent["uri"])
    (media,) = arrived["media_attachments"]
    assert media["url"].startswith(hq.public_url + "/media/remote/")
    assert media["remote_url"].startswith(sales.public_url + "/media/")
    assert media["description"] == "a chart"
    copy = wait_for(
        lambda: (r := local_get(hq, media["url"])).status_code == 200 and r, "hq's copy"
    )
    assert copy.headers["content-type"] == "image/png"
    assert (Image.open(io.BytesIO(copy.content)).size) == (120, 120)

    account = remote_account(hq, scene.anna, sales, bert)
    assert account["avatar"].startswith(hq.public_url + "/media/remote/")
    wait_for(lambda: local_get(hq, account["avatar"]).status_code == 200, "hq's avatar copy")

    # Removed from the allowlist, sales's files are gone from view at once.
    hq.cli("allowlist", "remove", sales.host)
    try:
        wait_for(lambda: local_get(hq, media["url"]).status_code == 404, "the copy gone")
        assert local_get(hq, account["avatar"]).status_code == 404
    finally:
        hq.cli("allowlist", "add", sales.host)
    wait_for(lambda: local_get(hq, media["url"]).status_code == 200, "the copy back")


def test_remote_documents_keep_their_file_name_and_size(scene: Scene) -> None:
    hq, sales = scene.hq, scene.sales
    carl = sales.create_user("carl")
    report, minutes = pdf(), odt()
    uploads = [
        sales.api(carl, "POST", "/api/v2/media", files={"file": (name, data, kind)}).json()
        for name, data, kind in (
            ("Quartalsbericht Q3.pdf", report, "application/pdf"),
            ("Protokoll.odt", minutes, ODT),
        )
    ]
    for upload in uploads:  # a PDF's first page is drawn in the background first
        wait_for(
            lambda u=upload: sales.api(carl, "GET", f"/api/v1/media/{u['id']}").status_code == 200,
            "the upload ready",
        )
    follows(hq, scene.anna, sales, carl)
    sent = post(
        sales, carl, "Bericht " + secrets.token_hex(3), media_ids=[u["id"] for u in uploads]
    )
    arrived = arrives(hq, scene.anna, sent["uri"])
    shown = [(m["type"], m["file_name"], m["file_size"]) for m in arrived["media_attachments"]]
    assert shown == [
        ("unknown", "Quartalsbericht Q3.pdf", len(report)),
        ("unknown", "Protokoll.odt", len(minutes)),
    ]
    assert all(
        m["url"].startswith(hq.public_url + "/media/remote/") for m in arrived["media_attachments"]
    )

    # The post's page on hq offers them for download as sales's page does.
    with signed_in(hq, scene.anna) as browser:
        page = browser.get(f"/@{hq.handle(carl)}/{arrived['id']}").text
    assert 'download="Quartalsbericht Q3.pdf"' in page
    assert 'download="Protokoll.odt"' in page
    for media in arrived["media_attachments"]:
        assert f'<span class="muted file-size">{file_size(media["file_size"])}</span>' in page
    assert page.count("Protokoll.odt<") == 1  # the name once: not again as a description


def carded(frame: dict[str, Any], uri: str) -> bool:
    if frame.get("event") != "status.update":
        return False
    shown = json.loads(frame["payload"])
    return bool(shown["uri"] == uri and shown["card"])


def test_open_timelines_hear_the_card_arrive(scene: Scene) -> None:
    hq, sales = scene.hq, scene.sales
    link = serve_page(scene.wiki, "/live", page("<title>Live page</title>"))
    with (
        connect(ws_url(hq, f"?stream=user&access_token={scene.anna.token}")) as on_hq,
        connect(ws_url(sales, f"?stream=user&access_token={scene.bert.token}")) as on_sales,
    ):
        sent = post(hq, scene.anna, f"Live: {link}")
        (*_, shown) = frames(on_hq, lambda f: carded(f, sent["uri"]))
        assert json.loads(shown["payload"])["card"]["title"] == "Live page"
        (*_, theirs) = frames(on_sales, lambda f: carded(f, sent["uri"]))
        assert json.loads(theirs["payload"])["card"]["title"] == "Live page"
