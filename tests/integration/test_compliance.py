"""The compliance team's tools on one real node: the confidentiality reminder, watch terms
(API and CLI), compliance reports, held posts and their release, regular expressions that
would run away, and the audit log (API, CLI, JSON, CSV, append-only).

The node is this module's own (watch terms would hold other tests' posts), once on SQLite and
once on PostgreSQL.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.kit import RunningNode, User, running_node

STAFF_SCOPES = "read write follow push admin:read admin:write"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def node(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningNode]:
    with running_node(tmp_path_factory.mktemp("compliance"), request.param) as running:
        yield running


@pytest.fixture(scope="module")
def officer(node: RunningNode) -> User:
    """An admin (every permission, compliance and the audit log included) with admin scopes."""
    user = node.create_user("officer", via_cli=True, scopes=STAFF_SCOPES)
    node.cli("user", "role", user.name, "admin")
    return user


def ok(answer: httpx.Response, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


def add_term(node: RunningNode, officer: User, term: str, label: str, **flags: bool) -> str:
    body = {"term": term, "label": label, **flags}
    return str(ok(node.api(officer, "POST", "/api/v1/flurfunk/watch_terms", json=body))["id"])


def remove_term(node: RunningNode, officer: User, term_id: str) -> None:
    ok(node.api(officer, "DELETE", f"/api/v1/flurfunk/watch_terms/{term_id}"))


def reports_about(node: RunningNode, moderator: User, status_id: str) -> list[dict[str, Any]]:
    found = ok(node.api(moderator, "GET", "/api/v1/admin/reports", params={"limit": 200}))
    return [r for r in found if status_id in [s["id"] for s in r["statuses"]]]


def audit(node: RunningNode, user: User, **params: str) -> list[dict[str, Any]]:
    return list(ok(node.api(user, "GET", "/api/v1/flurfunk/audit", params=params)))


# --- the confidentiality reminder ------------------------------------------------------------


def test_the_reminder_reaches_apps_and_the_composer(node: RunningNode, officer: User) -> None:
    someone = node.create_user("plain")
    text = "Keine unveröffentlichten Produkte, keine Quartalszahlen, nichts über Kunden."
    node.cli("compliance", "reminder", "set", text)
    for path in ("/api/v1/instance", "/api/v2/instance"):
        assert httpx.get(node.url + path).json()["flurfunk"]["confidentiality_reminder"] == text
    shown = ok(node.api(someone, "GET", "/api/v1/flurfunk/compliance/reminder"))
    assert shown == {"text": text}
    with httpx.Client(base_url=node.url, headers={"Accept": "text/html"}, timeout=30) as browser:
        page = browser.get("/auth/sign_in")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf is not None
        login = {"csrf_token": csrf.group(1), "login": someone.name, "password": someone.password}
        assert browser.post("/auth/sign_in", data=login).status_code == 303
        home = browser.get("/").text
        composer = home[home.index('class="composer"') :]
        assert html.escape(text, quote=False) in composer[: composer.index("</form>")]
    changed = "No financial results before they are published."
    refused = node.api(
        someone, "PUT", "/api/v1/flurfunk/compliance/reminder", json={"text": changed}
    )
    assert refused.status_code == 403
    plain = node.create_user("plain", via_cli=True, scopes=STAFF_SCOPES)
    refused = node.api(plain, "PUT", "/api/v1/flurfunk/compliance/reminder", json={"text": "x"})
    assert refused.status_code == 403
    assert "manage_compliance" in refused.json()["error"]
    ok(node.api(officer, "PUT", "/api/v1/flurfunk/compliance/reminder", json={"text": changed}))
    v1 = httpx.get(node.url + "/api/v1/instance").json()
    assert v1["flurfunk"]["confidentiality_reminder"] == changed
    entry = audit(node, officer, action="compliance.reminder")[0]
    assert (entry["actor"], entry["reason"]) == (officer.name, changed)
    too_long = node.api(
        officer, "PUT", "/api/v1/flurfunk/compliance/reminder", json={"text": "x" * 2001}
    )
    assert too_long.status_code == 422
    assert v1["flurfunk"]["confidentiality_reminder"] == changed


# --- watch terms -----------------------------------------------------------------------------


def test_watch_terms_through_the_api_and_the_cli(node: RunningNode, officer: User) -> None:
    someone = node.create_user("plain")
    term_id = add_term(node, officer, "Projekt Falke", "unreleased products", hold=False)
    shown = ok(node.api(officer, "GET", f"/api/v1/flurfunk/watch_terms/{term_id}"))
    assert {k: shown[k] for k in ("term", "label", "regex", "hold")} == {
        "term": "Projekt Falke",
        "label": "unreleased products",
        "regex": False,
        "hold": False,
    }
    changed = ok(
        node.api(officer, "PATCH", f"/api/v1/flurfunk/watch_terms/{term_id}", json={"hold": True})
    )
    assert changed["hold"] is True
    assert changed["term"] == "Projekt Falke"
    listed = node.cli("watch", "list").stdout.splitlines()
    assert any(line.split()[0] == term_id and "Projekt Falke" in line for line in listed)

    added = node.cli("watch", "add", r"\bQ[1-4]/20\d\d\b", "--label", "quarter", "--regex")
    cli_id = added.stdout.splitlines()[-1]
    assert any(
        t["id"] == cli_id and t["regex"]
        for t in ok(node.api(officer, "GET", "/api/v1/flurfunk/watch_terms"))
    )
    assert "removed" in node.cli("watch", "remove", cli_id).stdout
    remove_term(node, officer, term_id)
    assert node.api(officer, "GET", f"/api/v1/flurfunk/watch_terms/{term_id}").status_code == 404

    actions = [e["action"] for e in audit(node, officer, action="watch")]
    assert actions[:4] == ["watch.remove", "watch.remove", "watch.add", "watch.change"]
    assert node.api(someone, "GET", "/api/v1/flurfunk/watch_terms").status_code == 403


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"term": "(unclosed", "label": "x", "regex": True}, 422),
        ({"term": "a*", "label": "matches everything", "regex": True}, 422),
        ({"term": "", "label": "x"}, 422),
        ({"term": "x" * 501, "label": "x"}, 422),
        ({"term": "ok", "label": ""}, 422),
        ({"term": "ok", "label": "y" * 101}, 422),
        ({"term": ["a"], "label": "x"}, 422),
        ({"term": "ok", "label": "x", "hold": "perhaps"}, 422),
        ({"term": "nul\x00", "label": "x"}, 422),
        ({"label": "x"}, 422),
    ],
)
def test_hostile_watch_terms_are_refused(
    node: RunningNode, officer: User, body: dict[str, Any], status: int
) -> None:
    before = ok(node.api(officer, "GET", "/api/v1/flurfunk/watch_terms"))
    answer = node.api(officer, "POST", "/api/v1/flurfunk/watch_terms", json=body)
    assert answer.status_code == status, answer.text
    assert "error" in answer.json()
    assert ok(node.api(officer, "GET", "/api/v1/flurfunk/watch_terms")) == before
    for bad in ("abc", "-1", "99999999999999999999", "1"):
        assert node.api(officer, "DELETE", f"/api/v1/flurfunk/watch_terms/{bad}").status_code == 404
        assert node.api(officer, "POST", f"/api/v1/flurfunk/holds/{bad}/release").status_code == 404


def test_a_matching_post_raises_a_report_and_its_author_is_not_told(
    node: RunningNode, officer: User
) -> None:
    author = node.create_user("author")
    term_id = add_term(node, officer, "Kunde Müller AG", "statements about customers")
    try:
        post = ok(
            node.api(
                author,
                "POST",
                "/api/v1/statuses",
                json={"status": "Die kunde  MÜLLER AG zahlt nicht."},
            )
        )
        assert "flurfunk" not in post  # nothing held, nothing said
        clean = ok(
            node.api(author, "POST", "/api/v1/statuses", json={"status": "Kunde Müller AGB lesen"})
        )
        [report] = reports_about(node, officer, post["id"])
        assert report["category"] == "legal"
        assert report["account"] is None  # filed by the node itself
        assert report["target_account"]["username"] == author.name
        assert "statements about customers" in report["comment"]
        assert "kunde  MÜLLER AG" in report["comment"]
        assert reports_about(node, officer, clean["id"]) == []  # whole words only
        # An edit is watched too; a post that went out already is reported, never held.
        edited = node.api(
            author, "PUT", f"/api/v1/statuses/{clean['id']}", json={"status": "Kunde Müller AG"}
        )
        assert "flurfunk" not in ok(edited)
        assert len(reports_about(node, officer, clean["id"])) == 1
        assert ok(node.api(author, "GET", "/api/v1/notifications")) == []
    finally:
        remove_term(node, officer, term_id)


def test_a_held_post_is_its_authors_alone_until_released(node: RunningNode, officer: User) -> None:
    author, follower = node.create_user("author"), node.create_user("reader")
    ok(node.api(follower, "POST", f"/api/v1/accounts/{author.id}/follow"))
    term_id = add_term(node, officer, "Q4 results", "financial results", hold=True)
    try:
        text = f"Our Q4 results are in, @{follower.name}!"
        held = ok(node.api(author, "POST", "/api/v1/statuses", json={"status": text}))
        assert held["flurfunk"] == {"pending_review": True}
        mine = ok(node.api(author, "GET", f"/api/v1/statuses/{held['id']}"))
        assert mine["flurfunk"] == {"pending_review": True}
        assert node.api(follower, "GET", f"/api/v1/statuses/{held['id']}").status_code == 404
        assert httpx.get(f"{node.url}/api/v1/statuses/{held['id']}").status_code == 404
        assert held["id"] not in [
            s["id"] for s in ok(node.api(follower, "GET", "/api/v1/timelines/home"))
        ]
        assert held["id"] not in [
            s["id"] for s in ok(node.api(follower, "GET", "/api/v1/timelines/public"))
        ]
        assert held["id"] in [
            s["id"] for s in ok(node.api(author, "GET", "/api/v1/timelines/home"))
        ]
        assert ok(node.api(follower, "GET", "/api/v1/notifications")) == []
        # Nor can its author pass it on with a boost before it is released.
        boost = node.api(author, "POST", f"/api/v1/statuses/{held['id']}/reblog")
        assert boost.status_code == 403
        holds = ok(node.api(officer, "GET", "/api/v1/flurfunk/holds"))
        assert [h["labels"] for h in holds if h["status"]["id"] == held["id"]] == [
            ["financial results"]
        ]
        [report] = reports_about(node, officer, held["id"])
        assert "held back" in report["comment"]

        refused = node.api(author, "POST", f"/api/v1/flurfunk/holds/{held['id']}/release")
        assert refused.status_code == 403
        released = ok(node.api(officer, "POST", f"/api/v1/flurfunk/holds/{held['id']}/release"))
        assert "flurfunk" not in released
        assert held["id"] in [
            s["id"] for s in ok(node.api(follower, "GET", "/api/v1/timelines/home"))
        ]
        mentions = ok(
            node.api(follower, "GET", "/api/v1/notifications", params={"types[]": "mention"})
        )
        assert [n["status"]["id"] for n in mentions] == [held["id"]]
        again = node.api(officer, "POST", f"/api/v1/flurfunk/holds/{held['id']}/release")
        assert again.status_code == 404  # released already: nothing changes, nothing recorded
        entries = audit(node, officer, action="watch.release")
        assert [e["target"] for e in entries].count(held["id"]) == 1
        assert entries[0]["reason"] == "financial results"
    finally:
        remove_term(node, officer, term_id)


def test_a_runaway_regular_expression_does_not_hang_the_node(
    node: RunningNode, officer: User
) -> None:
    author = node.create_user("author")
    term_id = add_term(node, officer, "(a|aa)+$", "catastrophic", regex=True)
    try:
        started = time.monotonic()
        post = ok(node.api(author, "POST", "/api/v1/statuses", json={"status": "a" * 3000 + "!"}))
        assert time.monotonic() - started < 20  # a generous bound against a hang, not a timing
        [report] = reports_about(node, officer, post["id"])
        assert "time limit reached" in report["comment"]
        assert httpx.get(node.url + "/livez").status_code == 200
    finally:
        remove_term(node, officer, term_id)


# --- the audit log ---------------------------------------------------------------------------


def test_the_audit_api_filters_and_pages(node: RunningNode, officer: User) -> None:
    someone = node.create_user("plain")
    start = ok(node.api(officer, "GET", "/api/v1/flurfunk/audit", params={"limit": 1}))
    since = start[0]["created_at"] if start else "2020-01-01T00:00:00Z"
    for n in range(3):
        node.cli("node", "rule", "add", f"Rule {n}")
    entries = audit(node, officer, action="node.rule_add", since=since)
    assert [e["reason"] for e in entries[:3]] == ["Rule 2", "Rule 1", "Rule 0"]
    assert set(entries[0]) == {"id", "created_at", "actor", "action", "target", "reason"}
    assert all(e["actor"].startswith("cli:") for e in entries)
    first = node.api(
        officer, "GET", "/api/v1/flurfunk/audit", params={"action": "node", "limit": 2}
    )
    assert len(first.json()) == 2
    older = first.links["next"]["url"]
    page_two = ok(httpx.get(older, headers={"Authorization": f"Bearer {officer.token}"}))
    assert page_two
    assert int(page_two[0]["id"]) < int(first.json()[-1]["id"])
    assert not {e["id"] for e in page_two} & {e["id"] for e in first.json()}
    assert audit(node, officer, actor="nobody-at-all") == []
    assert audit(node, officer, since="2999-01-01T00:00:00Z") == []
    assert (
        node.api(officer, "GET", "/api/v1/flurfunk/audit", params={"since": "gestern"}).status_code
        == 422
    )
    assert node.api(someone, "GET", "/api/v1/flurfunk/audit").status_code == 403


def test_audit_export_as_json_and_csv_is_itself_audited(node: RunningNode) -> None:
    node.cli("allowlist", "add", "hr.corp.example")
    node.cli("node", "rule", "add", '=HYPERLINK("http://evil")')
    exported = json.loads(node.cli("audit", "export", "--format", "json").stdout)
    assert [set(e) for e in exported[:1]] == [
        {"id", "created_at", "actor", "action", "target", "reason"}
    ]
    assert exported == sorted(exported, key=lambda e: int(e["id"]))  # oldest first
    assert any(
        e["action"] == "allowlist.add" and e["target"] == "hr.corp.example" for e in exported
    )
    assert exported[-1]["action"] == "audit.export"
    assert exported[-1]["target"] == "json"
    since = exported[-1]["created_at"]
    rows = list(
        csv.DictReader(
            io.StringIO(node.cli("audit", "export", "--format", "csv", "--since", since).stdout)
        )
    )
    assert rows
    assert list(rows[0]) == ["id", "created_at", "actor", "action", "target", "reason"]
    assert rows[-1]["action"] == "audit.export"
    assert rows[-1]["target"] == "csv"
    everything = node.cli("audit", "export", "--format", "csv").stdout
    assert "'=HYPERLINK" in everything  # a spreadsheet shows it as text, never runs it
    bad = node.cli("audit", "export", "--since", "last week", check=False)
    assert bad.returncode == 2
    assert "ISO 8601" in bad.stderr
    assert node.cli("audit", "export", "--format", "xml", check=False).returncode == 2


def test_the_audit_log_cannot_be_rewritten(node: RunningNode) -> None:
    """No code path updates or deletes an entry, and the database refuses it as well."""
    import asyncio

    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    async def attempt(statement: str) -> str:
        engine = create_async_engine(node.database_url)
        try:
            async with engine.begin() as conn:
                await conn.execute(text(statement))
            return "changed"
        except Exception as exc:  # the driver's own error type differs per database
            return str(exc)
        finally:
            await engine.dispose()

    node.cli("node", "rule", "add", "Something to keep")
    for statement in (
        "DELETE FROM admin_actions",
        "UPDATE admin_actions SET operator = 'someone else'",
        "DELETE FROM allowlist_audit",
    ):
        assert "append-only" in asyncio.run(attempt(statement))


def test_the_usage_policy_answer_carries_the_reminder(node: RunningNode) -> None:
    """Last in this module: once a policy exists, posting waits for its acceptance."""
    someone = node.create_user("plain")
    node.cli("compliance", "reminder", "set", "Nothing about customers.")
    policy = node.data_dir / "policy.md"
    policy.write_text("- Be kind\n", encoding="utf-8")
    node.cli("policy", "set", str(policy))
    answer = ok(node.api(someone, "GET", "/api/v1/flurfunk/policy"))
    assert answer["confidentiality_reminder"] == "Nothing about customers."
