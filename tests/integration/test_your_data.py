"""A person's own data on /settings/data: the archive in Mastodon's format, prepared in the
background and downloaded from the page; importing follows, blocks, mutes and bookmarks from
Mastodon's CSV files, also in the background; and files that are broken or too large change
nothing."""

from __future__ import annotations

import contextlib
import io
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from tests.fakenode import fake_node, node_named, wait_for
from tests.kit import RunningNode, User

HTML = {"Accept": "text/html,application/xhtml+xml"}


@contextlib.contextmanager
def signed_in(node: RunningNode, user: User) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=node.url, headers=HTML, timeout=60) as browser:
        answer = browser.post(
            "/auth/sign_in",
            data={
                "csrf_token": csrf(browser, "/auth/sign_in"),
                "login": user.name,
                "password": user.password,
            },
        )
        assert answer.status_code == 303
        yield browser


def csrf(browser: httpx.Client, path: str = "/settings/data") -> str:
    token = re.search(r'name="csrf_token" value="([^"]+)"', browser.get(path).text)
    assert token is not None
    return token.group(1)


def flashed(browser: httpx.Client, answer: httpx.Response) -> str:
    assert answer.status_code == 303, answer.text
    notice = re.search(
        r'<p class="notice" role="status">([^<]*)</p>', browser.get("/settings/data").text
    )
    return notice.group(1) if notice else ""


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (20, 10), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def ok(answer: httpx.Response) -> Any:
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_archive_has_mastodons_files_and_parses(
    node: RunningNode, alice: User, bob: User
) -> None:
    media = ok(
        node.api(alice, "POST", "/api/v2/media", files={"file": ("a.png", png(), "image/png")})
    )
    ok(
        node.api(
            alice, "POST", "/api/v1/statuses", data={"status": "hello", "media_ids[]": media["id"]}
        )
    )
    ok(
        node.api(
            alice,
            "POST",
            "/api/v1/statuses",
            data={"status": f"@{bob.name} psst", "visibility": "direct"},
        )
    )
    theirs = ok(node.api(bob, "POST", "/api/v1/statuses", data={"status": "worth keeping"}))
    ok(node.api(alice, "POST", f"/api/v1/statuses/{theirs['id']}/bookmark"))
    ok(node.api(alice, "POST", f"/api/v1/statuses/{theirs['id']}/favourite"))

    with signed_in(node, alice) as browser:
        assert "/settings/data" in browser.get("/settings").text
        asked = browser.post("/settings/data/archive", data={"csrf_token": csrf(browser)})
        assert asked.status_code == 303
        link = wait_for(
            lambda: re.search(
                r'href="(/settings/data/archive/\d+)"', browser.get("/settings/data").text
            ),
            "the archive to be ready",
        )
        download = browser.get(link.group(1))
        assert download.status_code == 200
        assert download.headers["content-type"] == "application/zip"
    with signed_in(node, bob) as other:
        assert other.get(link.group(1)).status_code == 404  # only its owner downloads it

    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        names = archive.namelist()
        documents = {n: json.loads(archive.read(n)) for n in names if n.endswith(".json")}
        pictures = [n for n in names if n.startswith("media_attachments/")]
        assert Image.open(io.BytesIO(archive.read(pictures[0]))).size == (20, 10)
    assert {"outbox.json", "actor.json", "likes.json", "bookmarks.json"} <= set(documents)
    outbox = documents["outbox.json"]
    assert outbox["type"] == "OrderedCollection"
    assert outbox["totalItems"] == 2
    assert {item["type"] for item in outbox["orderedItems"]} == {"Create"}
    attached = [a["url"] for item in outbox["orderedItems"] for a in item["object"]["attachment"]]
    assert attached == pictures
    assert documents["actor.json"]["preferredUsername"] == alice.name
    assert documents["likes.json"]["orderedItems"] == [theirs["uri"]]
    assert documents["bookmarks.json"]["orderedItems"] == [theirs["uri"]]


def relationship(node: RunningNode, user: User, other: User) -> dict[str, Any]:
    return dict(
        ok(node.api(user, "GET", "/api/v1/accounts/relationships", params={"id": other.id}))[0]
    )


def upload(browser: httpx.Client, kind: str, text: str | bytes) -> httpx.Response:
    data = text.encode() if isinstance(text, str) else text
    return browser.post(
        "/settings/data/import",
        data={"csrf_token": csrf(browser), "kind": kind},
        files={"file": (f"{kind}.csv", data, "text/csv")},
    )


def imported(browser: httpx.Client) -> str:
    """The newest import's line on the page, once it is done (the import runs in the
    background)."""

    def newest_done() -> str | None:
        found = re.search(
            r'<ul class="imports" id="imports">\s*<li class="import-(\w+)">(.*?)</li>',
            browser.get("/settings/data").text,
            re.S,
        )
        if found is None or found.group(1) != "done":
            return None
        return " ".join(found.group(2).split())

    return str(wait_for(newest_done, "the import to be done"))


def test_csv_import_follows_blocks_mutes_and_bookmarks(node: RunningNode, alice: User) -> None:
    friend, pest, noisy, writer = (
        node.create_user(p) for p in ("friend", "pest", "noisy", "writer")
    )
    note = ok(node.api(writer, "POST", "/api/v1/statuses", data={"status": "bookmark me"}))
    with signed_in(node, alice) as browser:
        following = (
            "Account address,Show boosts,Notify on new posts,Languages\n"
            f"{friend.name}@{node.url.split('//')[1]},false,true,\n"
            "ghost@nowhere.invalid,true,false,\n"
            f"{writer.name},true,false,\n"
            "nobody,true,false,\n"
        )
        assert flashed(browser, upload(browser, "following", following)) == (
            "Import started: 4 rows."
        )
        done = imported(browser)
        assert "Imported 2 of 4 rows." in done
        assert "Not found: ghost@nowhere.invalid, nobody" in done
        assert flashed(browser, upload(browser, "blocks", f"{pest.name}\n")) == (
            "Import started: 1 row."
        )
        assert "Imported 1 of 1 row." in imported(browser)
        mutes = f"Account address,Hide notifications\n@{noisy.name},false\n"
        flashed(browser, upload(browser, "mutes", mutes))
        assert "Imported 1 of 1 row." in imported(browser)
        flashed(browser, upload(browser, "bookmarks", note["url"] + "\n"))
        assert "Imported 1 of 1 row." in imported(browser)
    assert relationship(node, alice, writer)["following"]
    followed = relationship(node, alice, friend)
    assert followed["following"]
    assert followed["showing_reblogs"] is False
    assert followed["notifying"] is True
    assert relationship(node, alice, pest)["blocking"]
    muted = relationship(node, alice, noisy)
    assert muted["muting"]
    assert muted["muting_notifications"] is False
    bookmarks = ok(node.api(alice, "GET", "/api/v1/bookmarks"))
    assert [b["id"] for b in bookmarks] == [note["id"]]


def test_broken_or_huge_files_change_nothing(node: RunningNode, alice: User, bob: User) -> None:
    with signed_in(node, alice) as browser:
        for kind, text in (
            ("following", f"{bob.name}\nthis is not an address!\n"),
            ("blocks", b"\xff\xfe\x00binary"),
            ("following", ""),
            ("mutes", "".join(f"user{i}@example.com\n" for i in range(1001))),
            ("blocks", "x" * (300 * 1024)),
            ("bookmarks", "javascript:alert(1)\n"),
            ("everything", f"{bob.name}\n"),
            ("following", f'"{bob.name}\n'),
        ):
            message = flashed(browser, upload(browser, kind, text))
            assert message.startswith("Nothing was imported:"), (kind, message)
        without_token = browser.post(
            "/settings/data/import",
            data={"kind": "blocks"},
            files={"file": ("b.csv", f"{bob.name}\n".encode(), "text/csv")},
        )
        assert without_token.status_code == 403
        assert 'id="imports"' not in browser.get("/settings/data").text  # no job was stored
    mine = relationship(node, alice, bob)
    assert not mine["following"]
    assert not mine["blocking"]
    assert not mine["muting"]


def test_csv_import_follows_accounts_on_other_nodes(tmp_path: Path) -> None:
    """Remote rows are found by WebFinger on allowlisted hosts only; the follow reaches the
    other node, and what was not found is listed."""
    with (
        fake_node("sales.flurfunk.test") as sales,
        node_named(
            tmp_path,
            "sqlite",
            "hq.flurfunk.test",
            FLURFUNK_ALLOWLIST="sales.flurfunk.test",
            FLURFUNK_CONNECT_TO=sales.connect_to,
        ) as hq,
    ):
        colleague = sales.add_actor("colleague")
        ann = hq.node.create_user("ann")
        following = (
            f"{sales.handle(colleague)}\nvanished@sales.flurfunk.test\nstranger@elsewhere.example\n"
        )
        with signed_in(hq.node, ann) as browser:
            assert flashed(browser, upload(browser, "following", following)) == (
                "Import started: 3 rows."
            )
            done = imported(browser)
        assert "Imported 1 of 3 rows." in done
        assert "Not found: vanished@sales.flurfunk.test, stranger@elsewhere.example" in done
        sales.wait("Follow", colleague.uri, "ann's follow to reach sales")
