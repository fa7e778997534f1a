"""Retention and legal hold across two real nodes: the sweep on hq deletes old posts, the
Deletes federate and sales removes its copies; an account under legal hold keeps its posts,
and what it deletes itself is hidden (gone from every view, the Delete federated) but kept
for the investigation export."""

from __future__ import annotations

import contextlib
import io
import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image

from tests.federation_kit import (
    FedNode,
    Network,
    Plan,
    arrives,
    follows,
    post,
    seen,
    status,
    wait_for,
)
from tests.federation_kit import _wire as wire


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    tmp = tmp_path_factory.mktemp("retention")
    plans = {"hq": Plan(allow=("sales",)), "sales": Plan(allow=("hq",))}
    nodes: dict[str, FedNode] = {}
    for name in plans:
        (tmp / name).mkdir()
        url = f"sqlite+aiosqlite:///{tmp / name / 'flurfunk.db'}"
        nodes[name] = FedNode(data_dir=tmp / name, database_url=url, name=name)
    wire(nodes, plans)
    with contextlib.ExitStack() as stack:
        for node in nodes.values():
            stack.callback(node.stop)
            node.start()
        yield Network(nodes)


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (12, 8), (0, 90, 160)).save(buffer, "PNG")
    return buffer.getvalue()


def later(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def sweep(node: FedNode, as_of: str) -> int:
    result = node.cli("retention", "sweep", "--as-of", as_of)
    return int(result.stdout.split()[-1])


def gone_on(node: FedNode, user: object, uri: str) -> bool:
    return seen(node, user, uri) is None  # type: ignore[arg-type]


def test_retention_deletes_old_posts_here_and_there_except_under_hold(net: Network) -> None:
    hq, sales = net["hq"], net["sales"]
    writer, keeper = hq.create_user("writer"), hq.create_user("keeper")
    reader = sales.create_user("reader")
    follows(sales, reader, hq, writer)
    follows(sales, reader, hq, keeper)
    old = post(hq, writer, "quarterly numbers, old news")
    held = post(hq, keeper, "evidence for the case")
    remote = sales.api(reader, "GET", "/api/v1/accounts/lookup", params={"acct": hq.handle(writer)})
    reader_handle = sales.handle(reader)
    secret = post(hq, writer, f"@{reader_handle} between us", visibility="direct")
    for uri in (old["uri"], held["uri"]):
        arrives(sales, reader, uri)
    wait_for(lambda: seen(sales, reader, secret["uri"]), "the direct message on sales")
    assert remote.status_code == 200

    assert "legal hold on" in hq.cli("hold", "add", keeper.name, "--reason", "case 7").stdout
    listed = hq.cli("hold", "list").stdout
    assert keeper.name in listed
    assert "case 7" in listed

    # Direct messages alone first: the public posts stay.
    hq.cli("retention", "set", "--days", "1", "--visibility", "direct")
    assert "direct" in hq.cli("retention", "show").stdout
    assert sweep(hq, later(0.5)) == 0  # nothing is a day old yet
    assert sweep(hq, later(2)) == 1
    assert status(hq, writer, secret["id"]).status_code == 404
    wait_for(lambda: gone_on(sales, reader, secret["uri"]), "the direct message gone on sales")
    assert status(hq, writer, old["id"]).status_code == 200

    # Then everything older than a day, as seen two days from now.
    hq.cli("retention", "set", "--days", "1", "--visibility", "all")
    assert sweep(hq, later(2)) == 1  # writer's post; keeper's stays under hold
    assert status(hq, writer, old["id"]).status_code == 404
    wait_for(lambda: gone_on(sales, reader, old["uri"]), "the old post gone on sales")
    assert status(hq, keeper, held["id"]).status_code == 200
    assert seen(sales, reader, held["uri"]) is not None
    fresh = post(hq, writer, "written after the sweep")
    assert sweep(hq, later(0)) == 0  # the rule counts from now: one day old at least
    assert status(hq, writer, fresh["id"]).status_code == 200

    # Lifting the hold lets the next sweep take the held post too.
    hq.cli("hold", "remove", keeper.name)
    assert sweep(hq, later(2)) >= 2
    assert status(hq, keeper, held["id"]).status_code == 404
    wait_for(lambda: gone_on(sales, reader, held["uri"]), "the released post gone on sales")
    assert "removed 2 retention rule(s)" in hq.cli("retention", "clear").stdout
    assert "no retention rules" in hq.cli("retention", "show").stdout


def test_own_deletion_under_hold_hides_the_post(net: Network) -> None:
    hq, sales = net["hq"], net["sales"]
    suspect, reader = hq.create_user("suspect"), sales.create_user("reader")
    follows(sales, reader, hq, suspect)
    hq.cli("hold", "add", hq.handle(suspect), "--reason", "investigation 12")
    picture = {"file": ("p.png", png(), "image/png")}
    media = hq.api(suspect, "POST", "/api/v2/media", files=picture).json()
    note = post(hq, suspect, "delete me before anyone notices", media_ids=[media["id"]])
    arrives(sales, reader, note["uri"])

    deleted = hq.api(suspect, "DELETE", f"/api/v1/statuses/{note['id']}")
    assert deleted.status_code == 200
    assert status(hq, suspect, note["id"]).status_code == 404
    timeline = hq.api(suspect, "GET", f"/api/v1/accounts/{suspect.id}/statuses").json()
    assert all(s["id"] != note["id"] for s in timeline)
    wait_for(lambda: gone_on(sales, reader, note["uri"]), "the Delete federated to sales")

    # Kept for the investigation: the export holds it, marked as hidden.
    out = hq.data_dir / f"export-{suspect.name}.zip"
    hq.cli("export", "account", suspect.name, "--out", str(out))
    with zipfile.ZipFile(out) as archive:
        outbox = json.loads(archive.read("outbox.json"))
        kept = [a for a in outbox["orderedItems"] if "anyone notices" in a["object"]["content"]]
        assert len(kept) == 1
        assert kept[0]["flurfunk:hidden"]["deleted_by"] == "author"
        attached = kept[0]["object"]["attachment"][0]["url"]
        assert Image.open(io.BytesIO(archive.read(attached))).size == (12, 8)  # the file stays

    # Once the hold is lifted, retention erases what the hold archive kept, as any post.
    hq.cli("hold", "remove", suspect.name)
    hq.cli("retention", "set", "--days", "1")
    sweep(hq, later(2))
    hq.cli("export", "account", suspect.name, "--out", str(out))
    with zipfile.ZipFile(out) as archive:
        assert "anyone notices" not in archive.read("outbox.json").decode()
    hq.cli("retention", "clear")


def test_remote_posts_expire_locally_and_a_held_remote_account_keeps_its_posts(
    net: Network,
) -> None:
    hq, sales = net["hq"], net["sales"]
    held, other = hq.create_user("held"), hq.create_user("other")
    reader = sales.create_user("reader")
    follows(sales, reader, hq, held)
    follows(sales, reader, hq, other)
    first = post(hq, held, "first draft of the contract")
    second = post(hq, held, "second draft of the contract")
    chatter = post(hq, other, "anyone for coffee?")
    for uri in (first["uri"], second["uri"], chatter["uri"]):
        arrives(sales, reader, uri)
    sales.cli("hold", "add", hq.handle(held), "--reason", "contract dispute")

    # Deleted on its own node: hidden on sales (gone from view), kept for the export there.
    assert hq.api(held, "DELETE", f"/api/v1/statuses/{first['id']}").status_code == 200
    wait_for(lambda: gone_on(sales, reader, first["uri"]), "the Delete applied on sales")
    out = sales.data_dir / "held-remote.zip"
    sales.cli("export", "account", hq.handle(held), "--out", str(out))
    with zipfile.ZipFile(out) as archive:
        items = json.loads(archive.read("outbox.json"))["orderedItems"]
        manifest = json.loads(archive.read("manifest.json"))
    hidden = [a for a in items if a["object"]["id"] == first["uri"]]
    assert hidden[0]["flurfunk:hidden"]["deleted_by"] == "remote"
    assert any(a["object"]["id"] == second["uri"] for a in items)
    assert manifest["account"] == hq.handle(held)

    # Sales' own retention removes remote copies here only; the held account's stay.
    sales.cli("retention", "set", "--days", "1")
    assert sweep(sales, later(2)) == 1
    assert gone_on(sales, reader, chatter["uri"])
    assert seen(sales, reader, second["uri"]) is not None
    assert status(hq, other, chatter["id"]).status_code == 200  # nothing told hq
    sales.cli("retention", "clear")
    sales.cli("hold", "remove", hq.handle(held))
