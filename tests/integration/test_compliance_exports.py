"""The investigation export and the compliance API on one node (SQLite and PostgreSQL): the
zip's manifest sums match its files, direct messages are in, the range is honoured, only
`export_data` may export; bad input to the retention, hold and export endpoints answers a
clear 4xx and changes nothing."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import secrets
import zipfile
from typing import Any

import httpx
from PIL import Image

from tests.kit import RunningNode, User


def staff(node: RunningNode, role: str) -> User:
    person = node.create_user(role, via_cli=True)
    node.cli("user", "role", person.name, role)
    scopes = "read write admin:read admin:write"
    token = node.cli("user", "token", person.name, "--scopes", scopes).stdout.split()[-1]
    return User(person.name, person.password, person.email, token, person.id)


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (24, 16), (10, 120, 200)).save(buffer, "PNG")
    return buffer.getvalue()


def ok(answer: Any) -> Any:
    assert answer.status_code == 200, answer.text
    return answer.json()


def read_zip(data: bytes) -> tuple[dict[str, Any], dict[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    return json.loads(files.pop("manifest.json")), files


def test_an_exports_manifest_matches_its_files(node: RunningNode, alice: User, bob: User) -> None:
    officer = staff(node, "admin")
    media = ok(
        node.api(alice, "POST", "/api/v2/media", files={"file": ("p.png", png(), "image/png")})
    )
    pictured = ok(
        node.api(
            alice,
            "POST",
            "/api/v1/statuses",
            data={"status": "the plan", "media_ids[]": media["id"]},
        )
    )
    ok(
        node.api(
            alice,
            "POST",
            "/api/v1/statuses",
            data={"status": f"@{bob.name} keep this between us", "visibility": "direct"},
        )
    )
    liked = ok(node.api(bob, "POST", "/api/v1/statuses", data={"status": "lunch?"}))
    ok(node.api(alice, "POST", f"/api/v1/statuses/{liked['id']}/favourite"))

    answer = node.api(officer, "POST", "/api/v1/flurfunk/exports", data={"account": alice.name})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    manifest, files = read_zip(answer.content)

    assert {entry["path"] for entry in manifest["files"]} == set(files)
    for entry in manifest["files"]:
        data = files[entry["path"]]
        assert entry["size"] == len(data), entry["path"]
        assert entry["sha256"] == hashlib.sha256(data).hexdigest(), entry["path"]
    assert {"outbox.json", "actor.json", "likes.json", "bookmarks.json"} <= set(files)
    outbox = json.loads(files["outbox.json"])
    notes = [item["object"] for item in outbox["orderedItems"]]
    assert any("keep this between us" in n["content"] for n in notes)  # direct messages too
    with_picture = next(n for n in notes if n["id"] == pictured["uri"])
    inside = with_picture["attachment"][0]["url"]
    assert inside in files
    assert Image.open(io.BytesIO(files[inside])).size == (24, 16)
    assert json.loads(files["likes.json"])["orderedItems"] == [liked["uri"]]
    assert json.loads(files["actor.json"])["preferredUsername"] == alice.name

    # A range after everything holds nothing; the CLI writes the same kind of file.
    later = node.api(
        officer,
        "POST",
        "/api/v1/flurfunk/exports",
        data={"account": alice.name, "since": "2999-01-01T00:00:00Z"},
    )
    _, nothing = read_zip(later.content)
    assert json.loads(nothing["outbox.json"])["orderedItems"] == []
    out = node.data_dir / f"{alice.name}.zip"
    printed = node.cli("export", "account", alice.name, "--until", "2999-01-01", "--out", str(out))
    assert printed.stdout.split()[-1] == str(out)
    manifest, files = read_zip(out.read_bytes())
    assert len(json.loads(files["outbox.json"])["orderedItems"]) == 2


def test_only_export_data_may_export(node: RunningNode, alice: User) -> None:
    moderator = staff(node, "moderator")
    refused = node.api(moderator, "POST", "/api/v1/flurfunk/exports", data={"account": alice.name})
    assert refused.status_code == 403
    assert "export_data" in refused.json()["error"]
    plain = node.api(alice, "POST", "/api/v1/flurfunk/exports", data={"account": alice.name})
    assert plain.status_code == 403


def test_compliance_endpoints_refuse_bad_input_and_change_nothing(
    node: RunningNode, alice: User
) -> None:
    officer = staff(node, "admin")
    rules = "/api/v1/flurfunk/retention"
    before = ok(node.api(officer, "GET", rules))
    for bad in ({"days": "-1"}, {"days": "ten"}, {}, {"days": "3", "visibility": "secret"}):
        answer = node.api(officer, "POST", rules, data=bad)
        assert answer.status_code == 422, (bad, answer.text)
        assert answer.json()["error"]
    assert ok(node.api(officer, "GET", rules)) == before
    assert node.api(alice, "POST", rules, data={"days": "1"}).status_code == 403
    assert node.api(officer, "DELETE", rules, params={"visibility": "x"}).status_code == 422

    holds = "/api/v1/flurfunk/legal_holds"
    group = node.api(officer, "POST", holds, data={"account": "group:sales", "reason": "r"})
    assert group.status_code == 404
    assert "no group 'sales'" in group.json()["error"]
    remote = node.api(officer, "POST", holds, data={"group": "apollo@dev.example", "reason": "r"})
    assert remote.status_code == 422
    assert "another node's" in remote.json()["error"]
    # A person is no group, and a group is named as one.
    person = node.api(officer, "POST", holds, data={"group": alice.name, "reason": "r"})
    assert person.status_code == 404
    both = node.api(officer, "POST", holds, data={"account": "a", "group": "b", "reason": "r"})
    assert both.status_code == 422
    unknown = node.api(officer, "POST", holds, data={"account": "ghost@nowhere", "reason": "r"})
    assert unknown.status_code == 404
    no_reason = node.api(officer, "POST", holds, data={"account": alice.name})
    assert no_reason.status_code == 422
    assert ok(node.api(officer, "GET", holds)) == []
    assert node.api(officer, "DELETE", f"{holds}/{alice.name}").status_code == 404

    held = ok(node.api(officer, "POST", holds, data={"account": alice.name, "reason": "case"}))
    assert held["account"] == alice.name
    twice = node.api(officer, "POST", holds, data={"account": alice.name, "reason": "again"})
    assert twice.status_code == 422
    assert [h["account"] for h in ok(node.api(officer, "GET", holds))] == [alice.name]
    ok(node.api(officer, "DELETE", f"{holds}/{alice.name}"))
    assert ok(node.api(officer, "GET", holds)) == []

    exports = "/api/v1/flurfunk/exports"
    for bad in (
        {"account": alice.name, "since": "yesterday"},
        {"account": alice.name, "until": "2026-02-30"},
        {"account": alice.name, "since": "2026-02-01", "until": "2026-01-01"},
        {},
    ):
        answer = node.api(officer, "POST", exports, data=bad)
        assert answer.status_code == 422, (bad, answer.text)
    assert node.api(officer, "POST", exports, data={"account": "ghost"}).status_code == 404


def page_token(browser: httpx.Client, path: str) -> str:
    token = re.search(r'name="csrf_token" value="([^"]+)"', browser.get(path).text)
    assert token is not None
    return token.group(1)


def signed_in(node: RunningNode, user: User) -> httpx.Client:
    browser = httpx.Client(base_url=node.url, headers={"Accept": "text/html"}, timeout=30)
    answer = browser.post(
        "/auth/sign_in",
        data={
            "csrf_token": page_token(browser, "/auth/sign_in"),
            "login": user.name,
            "password": user.password,
        },
    )
    assert answer.status_code == 303
    return browser


def test_the_admin_page_sets_rules_and_holds(node: RunningNode, alice: User) -> None:
    officer, moderator = staff(node, "admin"), staff(node, "moderator")
    here = "/admin/retention"
    with contextlib.closing(signed_in(node, officer)) as browser:
        token = page_token(browser, here)
        browser.post(here + "/rules", data={"csrf_token": token, "days": "-3"})
        assert "Not done" in browser.get(here).text
        browser.post(
            here + "/rules", data={"csrf_token": token, "days": "90", "visibility": "direct"}
        )
        browser.post(
            here + "/holds", data={"csrf_token": token, "account": alice.name, "reason": "r"}
        )
        shown = browser.get(here).text
        assert 'data-visibility="direct"' in shown
        assert f'data-account="{alice.name}"' in shown
        browser.post(here + "/holds/remove", data={"csrf_token": token, "account": alice.name})
        browser.post(here + "/rules/clear", data={"csrf_token": token})
        shown = browser.get(here).text
        assert 'data-visibility="direct"' not in shown
        assert f'data-account="{alice.name}"' not in shown
    with contextlib.closing(signed_in(node, moderator)) as browser:
        assert browser.get(here).status_code == 403


def test_a_held_account_cannot_be_deleted_until_the_hold_is_lifted(node: RunningNode) -> None:
    held = node.create_user("held")
    node.cli("hold", "add", held.name, "--reason", "case 9")
    refused = node.cli("user", "delete", held.name, "--yes", check=False)
    assert refused.returncode == 2
    assert "under legal hold" in refused.stderr
    assert held.name in node.cli("user", "list").stdout
    node.cli("hold", "remove", held.name)
    node.cli("user", "delete", held.name, "--yes")


def test_a_group_hold_and_export_on_one_node(node: RunningNode, alice: User, bob: User) -> None:
    officer = staff(node, "admin")
    name = f"g{secrets.token_hex(4)}"
    node.cli("group", "create", name, "--owner", bob.name)
    groups = "/api/v1/flurfunk/groups"
    ok(node.api(bob, "POST", f"{groups}/{name}/members", json={"acct": alice.name}))
    media = ok(
        node.api(alice, "POST", "/api/v2/media", files={"file": ("p.png", png(), "image/png")})
    )
    kept = ok(
        node.api(
            alice,
            "POST",
            "/api/v1/statuses",
            data={"status": f"@{name} the group plan", "media_ids[]": media["id"]},
        )
    )
    ok(node.api(alice, "POST", "/api/v1/statuses", data={"status": "not in the group"}))

    holds = "/api/v1/flurfunk/legal_holds"
    held = ok(node.api(officer, "POST", holds, data={"group": name, "reason": "case 9"}))
    assert held["account"] == f"group:{name}"
    assert held["group"] is True
    again = node.api(officer, "POST", holds, data={"account": f"group:{name}", "reason": "x"})
    assert again.status_code == 422
    ok(node.api(alice, "DELETE", f"/api/v1/statuses/{kept['id']}"))
    assert node.api(alice, "GET", f"/api/v1/statuses/{kept['id']}").status_code == 404

    exports = "/api/v1/flurfunk/exports"
    for bad, code in (
        ({"group": "nosuchgroup"}, 404),
        ({"group": alice.name}, 404),
        ({"group": f"{name}@elsewhere.example"}, 422),
        ({"account": "group:"}, 422),
        ({"group": name, "account": alice.name}, 422),
    ):
        answer = node.api(officer, "POST", exports, data=bad)
        assert answer.status_code == code, (bad, answer.text)
    refused = node.api(alice, "POST", exports, data={"group": name})
    assert refused.status_code == 403

    answer = node.api(officer, "POST", exports, data={"group": name})
    assert answer.status_code == 200, answer.text
    manifest, files = read_zip(answer.content)
    assert {entry["path"] for entry in manifest["files"]} == set(files)
    for entry in manifest["files"]:
        data = files[entry["path"]]
        assert entry["size"] == len(data), entry["path"]
        assert entry["sha256"] == hashlib.sha256(data).hexdigest(), entry["path"]
    assert json.loads(files["actor.json"])["type"] == "Group"
    items = json.loads(files["outbox.json"])["orderedItems"]
    texts = [a["object"]["content"] for a in items if a["type"] == "Create"]
    assert any("the group plan" in t for t in texts)
    assert not any("not in the group" in t for t in texts)
    hidden = next(a for a in items if "the group plan" in a["object"]["content"])
    assert hidden["flurfunk:hidden"]["deleted_by"] == "author"
    assert hidden["object"]["audience"].endswith(f"/users/{name}")
    assert hidden["object"]["attachment"][0]["url"] in files
    members = {
        m["acct"].split("@")[0]: m["role"]
        for m in json.loads(files["members.json"])["orderedItems"]
    }
    assert members == {bob.name: "owner", alice.name: "member"}
    audit = json.loads(node.cli("audit", "export", "--format", "json").stdout)
    assert [a["target"] for a in audit if a["action"] == "export.group"] == [f"group:{name}"]
    assert f"group:{name}" in node.cli("hold", "list").stdout
    assert "removed" in node.cli("hold", "remove", f"group:{name}").stdout
    assert ok(node.api(officer, "GET", holds)) == []
