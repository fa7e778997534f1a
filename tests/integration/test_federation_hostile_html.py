"""Hostile markup and media URLs from another node, and what apps get to see of them.

One real node (hq) allows the fake remote `sales.flurfunk.test` and the media host
`media.flurfunk.test` (which nobody contacts: apps would load its files). Remote actors and notes
carry scripts, event handlers, `javascript:` links and markup where text belongs; their avatars
and attachments point at allowed and refused hosts. Every check reads what an app reads: the
client API's JSON.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest

from models.remote_file import key_of
from tests.federation_kit import (
    PUBLIC,
    REMOTE_HOST,
    FakeActor,
    FakeRemote,
    FedNode,
    account_of,
    fake_remote,
    node_beside,
    notified,
    resolve,
    status,
    wait_for,
)
from tests.html_safety import assert_harmless_html, assert_plain
from tests.integration.test_inbox_handlers import (
    REAL_WORLD,
    REFUSED,
    create,
    mention,
    moved_onto,
    note,
    send,
    settled,
)
from tests.kit import User

MEDIA_HOST = "media.flurfunk.test"
REFUSED_MEDIA = "http://127.0.0.1:8650/steal.png"  # a port on the staff device's own loopback
AS = "application/activity+json"

PAYLOADS = (
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(2)">click</a>',
    "<script>alert(3)</script>",
    "<svg onload=alert(4)>",
    "&lt;img src=x onerror=alert(5)&gt;",
    '<iframe src="http://127.0.0.1:8650/"></iframe>',
    '<a href="data:text/html,&lt;script&gt;alert(6)&lt;/script&gt;">d</a>',
    '<p style="background:url(http://127.0.0.1:8650/)" onclick="alert(7)">s</p>',
    '"><img src=x onerror=alert(8)>',
    '<math><mi xlink:href="javascript:alert(9)">m</mi></math>',
    "&amp;lt;b onmouseover=alert(10)&amp;gt;x",
)


def assert_shown_url(url: str | None, node: FedNode, where: str) -> None:
    """A URL apps load by themselves: on the node, or on a host it allows."""
    if url is None:
        return
    host = urlsplit(url).hostname or ""
    assert url.startswith(node.public_url + "/") or host in (REMOTE_HOST, MEDIA_HOST), (
        f"{where}: {url}"
    )


def assert_account_harmless(account: dict[str, Any], node: FedNode) -> None:
    where = f"account {account['acct']}"
    assert_harmless_html(account["note"], where + " note")
    assert_plain(account["display_name"], where + " display_name")
    for field in account["fields"]:
        assert_plain(field["name"], where + " field name")
        assert_harmless_html(field["value"], where + " field value")
    for key in ("avatar", "avatar_static", "header", "header_static"):
        assert_shown_url(account[key], node, f"{where} {key}")


def assert_status_harmless(presented: dict[str, Any], node: FedNode) -> None:
    where = f"status {presented['uri']}"
    assert_harmless_html(presented["content"], where + " content")
    assert_plain(presented["spoiler_text"], where + " spoiler_text")
    assert_account_harmless(presented["account"], node)
    for media in presented["media_attachments"]:
        assert_plain(media["description"] or "", where + " media description")
        for key in ("url", "preview_url", "remote_url"):
            assert_shown_url(media[key], node, f"{where} media {key}")
    for option in (presented["poll"] or {}).get("options", []):
        assert_plain(option["title"], where + " poll option")
    for tag in presented["tags"]:
        assert_plain(tag["name"], where + " tag")


# --- the node and the fake remote ----------------------------------------------------------


@pytest.fixture(scope="module")
def remote() -> Iterator[FakeRemote]:
    with fake_remote() as remote:
        yield remote


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def hq(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, remote: FakeRemote
) -> Iterator[FedNode]:
    tmp = tmp_path_factory.mktemp(f"hostile-html-{request.param}")
    with node_beside(remote, tmp, request.param, also_allow=(MEDIA_HOST,)) as node:
        yield node


def publish(remote: FakeRemote, actor: FakeActor, **fields: Any) -> None:
    """Serve `actor`'s document with `fields` added (a profile as its node describes it)."""
    remote.peer.answer(
        f"/users/{actor.name}",
        200,
        orjson.dumps({**actor.document(), **fields}),
        content_type=AS,
    )


def profile(hq: FedNode, remote: FakeRemote, user: User, actor: FakeActor) -> dict[str, Any]:
    """The remote account as `user`'s app shows it, found by its handle."""
    remote.webfinger(actor)
    found = resolve(hq, user, f"{actor.name}@{remote.host}")
    assert found is not None, f"{actor.name} did not resolve"
    return account_of(hq, user, found["id"])


def mentioned_status(hq: FedNode, user: User, by: FakeActor, uri: str, host: str) -> dict[str, Any]:
    """The status `uri` as `user` reads it, once the mention of them has arrived."""
    found = wait_for(
        lambda: notified(hq, user, "mention", f"{by.name}@{host}", uri), f"the mention in {uri}"
    )
    answer = status(hq, user, found[0]["status"]["id"])
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def media_url(host: str, name: str) -> str:
    return f"http://{host}/files/{name}"


# --- accounts ------------------------------------------------------------------------------


HOSTILE_PROFILE: dict[str, Any] = {
    "name": "<b>Bob</b> <img src=x onerror=alert(1)>:blobcat:",
    "summary": (
        '<p>Hello<img src=x onerror=alert(1)> <a href="javascript:alert(2)">me</a>'
        "<script>alert(3)</script> <strong>team</strong></p>"
    ),
    "attachment": [
        {
            "type": "PropertyValue",
            "name": "<i>Web</i>site<img src=x onerror=alert(4)>",
            "value": (
                '<a href="javascript:alert(5)" onclick="alert(6)">home</a>'
                '<img src=x onerror=alert(7)> <a href="https://sales.flurfunk.test/">ok</a>'
            ),
        },
        {"type": "PropertyValue", "name": "&lt;b&gt;Team&lt;/b&gt;", "value": "Sales"},
    ],
    "icon": {"type": "Image", "url": REFUSED_MEDIA},
    "image": {"type": "Image", "url": media_url(MEDIA_HOST, "header.png")},
}


def test_a_remote_profile_shows_harmless_html(hq: FedNode, remote: FakeRemote) -> None:
    ann, bob = hq.create_user("ann"), remote.actor("bob")
    publish(remote, bob, **HOSTILE_PROFILE)

    shown = profile(hq, remote, ann, bob)

    assert_account_harmless(shown, hq)
    assert shown["display_name"] == "Bob :blobcat:"  # markup gone, the emoji shortcode kept
    assert shown["note"].startswith("<p>Hello")
    assert "<strong>team</strong>" in shown["note"]
    assert "alert" not in shown["note"]
    website, team = shown["fields"]
    assert (website["name"], team["name"]) == ("Website", "Team")
    assert '<a href="https://sales.flurfunk.test/">ok</a>' in website["value"]
    assert team["value"] == "Sales"


def test_remote_pictures_come_only_from_allowed_hosts(hq: FedNode, remote: FakeRemote) -> None:
    ann, bob = hq.create_user("ann"), remote.actor("bob")
    publish(remote, bob, **HOSTILE_PROFILE)

    shown = profile(hq, remote, ann, bob)

    placeholder = hq.public_url + "/static/avatar.png"
    assert shown["avatar"] == shown["avatar_static"] == placeholder  # 127.0.0.1:8650 is refused
    # An allowed host's file is shown from this node's copy.
    assert shown["header"] == hq.public_url + "/media/remote/" + key_of(
        media_url(MEDIA_HOST, "header.png")
    )
    served = hq.api(None, "GET", "/static/avatar.png")
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/png"

    for elsewhere in (
        "https://elsewhere.example/a.png",  # a host nobody allowed
        f"http://elsewhere.example\\@{MEDIA_HOST}/a.png",  # where browsers go: elsewhere
        "http://[::1/a.png",  # no URL at all
    ):
        cleo = remote.actor("cleo")
        publish(remote, cleo, icon={"type": "Image", "url": elsewhere})
        assert profile(hq, remote, ann, cleo)["avatar"] == placeholder, elsewhere


def test_a_remote_note_shows_harmless_html(hq: FedNode, remote: FakeRemote) -> None:
    ann, bob = hq.create_user("ann"), remote.actor("bob")
    words = note(
        bob,
        "<p>Quarterly numbers<script>alert(1)</script><img src=x onerror=alert(2)> are "
        '<a href="javascript:alert(3)">here</a> <em>soon</em></p>',
        type="Question",
        summary="<b>CW</b><img src=x onerror=alert(4)>",
        cc=[hq.actor_uri(ann)],
        tag=[mention(hq, ann), {"type": "Hashtag", "name": "#<b>q3</b>", "href": "http://x/"}],
        oneOf=[
            {"type": "Note", "name": "<b>Yes</b><img src=x onerror=alert(5)>"},
            {"type": "Note", "name": "&lt;i&gt;No&lt;/i&gt;"},
        ],
        endTime="2099-01-01T00:00:00Z",
        attachment=[
            {
                "type": "Document",
                "mediaType": "image/png",
                "url": media_url(MEDIA_HOST, "chart.png"),
                "name": "A <b>chart</b><img src=x onerror=alert(6)>",
                "blurhash": '"><img src=x onerror=alert(7)>',
            },
            {"type": "Document", "mediaType": "video/mp4", "url": REFUSED_MEDIA},
        ],
    )
    send(hq, bob, create(bob, words))

    shown = mentioned_status(hq, ann, bob, words["id"], remote.host)

    assert_status_harmless(shown, hq)
    assert shown["content"].startswith("<p>Quarterly numbers are ")
    assert "<em>soon</em>" in shown["content"]
    assert shown["spoiler_text"] == "CW"
    assert [o["title"] for o in shown["poll"]["options"]] == ["Yes", "No"]
    chart, clip = shown["media_attachments"]
    assert (chart["type"], chart["description"], chart["blurhash"]) == ("image", "A chart", None)
    assert chart["remote_url"] == media_url(MEDIA_HOST, "chart.png")
    assert chart["url"] == hq.public_url + "/media/remote/" + key_of(chart["remote_url"])
    # A file on a refused host: the node's placeholder, and no way to reach the original.
    assert clip["type"] == "unknown"
    assert clip["url"] == clip["preview_url"] == hq.public_url + "/static/missing.png"
    assert clip["remote_url"] is None
    assert hq.api(None, "GET", "/static/missing.png").headers["content-type"] == "image/png"


def test_removing_a_host_from_the_allowlist_hides_its_files_at_once(
    hq: FedNode, remote: FakeRemote
) -> None:
    ann, bob = hq.create_user("ann"), remote.actor("bob")
    publish(remote, bob, icon={"type": "Image", "url": media_url(MEDIA_HOST, "bob.png")})
    account_id = profile(hq, remote, ann, bob)["id"]
    picture = {
        "type": "Document",
        "mediaType": "image/png",
        "url": media_url(MEDIA_HOST, "photo.png"),
    }
    words = note(bob, "<p>photo</p>", cc=[hq.actor_uri(ann)], tag=[mention(hq, ann)])
    words["attachment"] = [picture]
    send(hq, bob, create(bob, words))
    status_id = mentioned_status(hq, ann, bob, words["id"], remote.host)["id"]
    copy = hq.public_url + "/media/remote/" + key_of(media_url(MEDIA_HOST, "bob.png"))
    assert account_of(hq, ann, account_id)["avatar"] == copy

    hq.cli("allowlist", "remove", MEDIA_HOST)
    try:
        wait_for(
            lambda: account_of(hq, ann, account_id)["avatar"].endswith("/static/avatar.png"),
            "the placeholder avatar",
        )
        (media,) = status(hq, ann, status_id).json()["media_attachments"]
        assert media["url"] == hq.public_url + "/static/missing.png"
        assert media["remote_url"] is None
    finally:
        hq.cli("allowlist", "add", MEDIA_HOST)
    wait_for(
        lambda: account_of(hq, ann, account_id)["avatar"] == copy,
        "the avatar (this node's copy) back once the host is allowed again",
    )


# --- real-world payloads with hostile markup ----------------------------------------------

# Fields that carry HTML, and fields that carry text (where markup must go, not be escaped).
HTML_KEYS = frozenset({"content", "summary"})
TEXT_KEYS = frozenset({"name"})
MAP_KEYS = {"contentMap": "content", "summaryMap": "summary", "nameMap": "name"}
NOTE_TYPES = ("Note", "Article", "Page", "Question")


def poisoned(value: Any, payloads: Iterator[str]) -> Any:
    """`value` with every HTML and text field replaced by a hostile payload (ids, types and
    addresses are kept, so that the activity still means what it meant)."""
    if isinstance(value, list):
        return [poisoned(item, payloads) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key in HTML_KEYS and isinstance(item, str):
            out[key] = f"<p>{key} {next(payloads)}</p>"
        elif key in TEXT_KEYS and isinstance(item, str):
            out[key] = f"{next(payloads)} {key} {secrets.token_hex(2)}"
        elif key in MAP_KEYS and isinstance(item, dict):
            out[key] = {lang: f"<p>{next(payloads)}</p>" for lang in item}
        elif key == "@context":
            out[key] = item
        else:
            out[key] = poisoned(item, payloads)
    return out


def addressed_to(activity: dict[str, Any], node: FedNode, user: User) -> dict[str, Any]:
    """The activity's note, if it carries one, mentions `user` (so that it is kept)."""
    obj = activity.get("object")
    if isinstance(obj, dict) and obj.get("type") in NOTE_TYPES:
        tags: list[Any] = obj["tag"] if isinstance(obj.get("tag"), list) else []
        cc: list[Any] = obj["cc"] if isinstance(obj.get("cc"), list) else [obj.get("cc") or PUBLIC]
        obj["tag"] = [*tags, mention(node, user)]
        obj["cc"] = [*cc, node.actor_uri(user)]
    return activity


def test_real_world_payloads_with_hostile_markup_show_harmless(
    hq: FedNode, remote: FakeRemote
) -> None:
    ann = hq.create_user("ann")
    payloads = itertools.cycle(PAYLOADS)
    signers: dict[str, FakeActor] = {}

    def deliver(names: list[str]) -> dict[str, dict[str, Any]]:
        sent: dict[str, dict[str, Any]] = {}
        for name in names:
            activity = addressed_to(poisoned(moved_onto(remote, name), payloads), hq, ann)
            actor_name = activity["actor"].rsplit("/", 1)[1]
            if actor_name not in signers:
                signers[actor_name] = FakeActor.generate(remote.host, actor_name)
                hostile = {k: v for k, v in HOSTILE_PROFILE.items() if k not in ("icon", "image")}
                publish(
                    remote,
                    signers[actor_name],
                    **poisoned(hostile, payloads),
                    icon={"type": "Image", "url": REFUSED_MEDIA},
                )
            answer = signers[actor_name].post(hq, activity)
            assert answer.status_code == 202, f"{name}: {answer.status_code} {answer.text}"
            sent[name] = activity
        results = settled(hq, *sent.values())
        failed = {n for n, activity in sent.items() if results[activity["id"]] == "failed"}
        assert failed <= REFUSED  # hostile markup makes nothing fail that the original passes
        return sent

    names = sorted(p.name for p in Path(REAL_WORLD).glob("*.json"))
    deletes = [n for n in names if orjson.loads((REAL_WORLD / n).read_bytes())["type"] == "Delete"]
    sent = deliver([n for n in names if n not in deletes])  # the notes first, to be read

    notes = {
        name: activity
        for name, activity in sent.items()
        if activity["type"] in ("Create", "Update")
        and isinstance(activity["object"], dict)
        and activity["object"].get("type") in NOTE_TYPES
    }
    assert len(notes) >= 4
    for name, activity in notes.items():
        author = signers[activity["actor"].rsplit("/", 1)[1]]
        shown = mentioned_status(hq, ann, author, activity["object"]["id"], remote.host)
        assert_status_harmless(shown, hq)
        assert "content" in shown["content"], f"{name}: the hostile version was not stored"
        assert shown["account"]["avatar"] == hq.public_url + "/static/avatar.png", name

    deliver(deletes)
    for presented in hq.api(ann, "GET", "/api/v1/notifications").json():
        assert_account_harmless(presented["account"], hq)
        if presented.get("status"):
            assert_status_harmless(presented["status"], hq)
