"""Retention and legal hold across two real nodes: the sweep on hq deletes old posts, the
Deletes federate and sales removes its copies; an account under legal hold keeps its posts,
and what it deletes itself is hidden (gone from every view, the Delete federated) but kept
for the investigation export. A held group keeps every post in it the same way, whoever
wrote it."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import secrets
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
    resolve,
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


def test_a_held_groups_posts_survive_deletion_and_retention(net: Network) -> None:
    hq, sales = net["hq"], net["sales"]
    owner, member = hq.create_user("owner"), hq.create_user("member")
    far = sales.create_user("far")
    name = f"g{secrets.token_hex(4)}"
    groups = "/api/v1/flurfunk/groups"
    hq.cli("group", "create", name, "--owner", owner.name)
    added = hq.api(owner, "POST", f"{groups}/{name}/members", json={"acct": member.name})
    assert added.status_code == 200, added.text
    found = resolve(sales, far, f"{name}@{hq.domain}")
    assert found is not None
    assert sales.api(far, "POST", f"/api/v1/accounts/{found['id']}/follow").status_code == 200

    def joined() -> bool:
        listed = hq.api(owner, "GET", f"{groups}/{name}/members").json()
        return sales.handle(far) in {m["account"]["acct"] for m in listed}

    wait_for(joined, "far joining the group")
    picture = {"file": ("p.png", png(), "image/png")}
    media = hq.api(member, "POST", "/api/v2/media", files=picture).json()
    victim = post(hq, member, f"@{name} the draft contract", media_ids=[media["id"]])
    stays = post(hq, member, f"@{name} minutes of the meeting")
    outside = post(hq, member, "lunch, anyone?")
    remote = post(sales, far, f"@{name}@{hq.domain} the customer said no")
    on_hq = arrives(hq, owner, remote["uri"])

    held = hq.cli("hold", "add", f"group:{name}", "--reason", "case 14").stdout
    assert f"group:{name}" in held
    assert f"group:{name}" in hq.cli("hold", "list").stdout
    audit = json.loads(hq.cli("audit", "export", "--format", "json").stdout)
    assert any(a["action"] == "hold.add" and a["target"] == f"group:{name}" for a in audit)

    # Its author deletes one post, a group moderator removes the remote one: both vanish
    # from every view but are kept.
    assert hq.api(member, "DELETE", f"/api/v1/statuses/{victim['id']}").status_code == 200
    assert status(hq, member, victim["id"]).status_code == 404
    removed = hq.api(owner, "DELETE", f"{groups}/{name}/statuses/{on_hq['id']}")
    assert removed.status_code == 200, removed.text
    assert status(hq, owner, on_hq["id"]).status_code == 404

    # Retention takes the post outside the group, not the one inside.
    hq.cli("retention", "set", "--days", "1")
    sweep(hq, later(2))
    assert status(hq, member, outside["id"]).status_code == 404
    assert status(hq, member, stays["id"]).status_code == 200

    out = hq.data_dir / f"export-group-{name}.zip"
    printed = hq.cli("export", "group", name, "--out", str(out))
    assert printed.stdout.split()[-1] == str(out)
    with zipfile.ZipFile(out) as archive:
        files = {n: archive.read(n) for n in archive.namelist()}
    manifest = json.loads(files.pop("manifest.json"))
    assert {e["path"] for e in manifest["files"]} == set(files)
    for entry in manifest["files"]:
        assert entry["size"] == len(files[entry["path"]])
        assert entry["sha256"] == hashlib.sha256(files[entry["path"]]).hexdigest()
    items = json.loads(files["outbox.json"])["orderedItems"]

    def find(text: str) -> dict[str, object]:
        return next(a for a in items if text in a["object"]["content"])

    assert find("the draft contract")["flurfunk:hidden"]["deleted_by"] == "author"
    attached = find("the draft contract")["object"]["attachment"][0]["url"]
    assert Image.open(io.BytesIO(files[attached])).size == (12, 8)
    kept_remote = find("the customer said no")
    assert kept_remote["flurfunk:hidden"]["deleted_by"] == "group moderation"
    assert sales.domain in kept_remote["actor"]  # its own author, not the group
    assert "flurfunk:hidden" not in find("minutes of the meeting")
    assert not any("lunch, anyone" in a["object"]["content"] for a in items)
    members = json.loads(files["members.json"])["orderedItems"]
    assert sales.handle(far) in {m["acct"] for m in members}

    # Lifting the hold lets retention take everything, the kept posts too.
    assert "removed" in hq.cli("hold", "remove", f"group:{name}").stdout
    sweep(hq, later(2))
    assert status(hq, member, stays["id"]).status_code == 404
    hq.cli("export", "group", name, "--out", str(out))
    with zipfile.ZipFile(out) as archive:
        left = json.loads(archive.read("outbox.json"))["orderedItems"]
        assert left == [], json.dumps(left)[:3000]
    hq.cli("retention", "clear")
