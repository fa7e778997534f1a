"""An operator manages users and the node's description with the CLI while `serve` runs:
what they change shows in the running node (tokens, streams, sign-in, roles, the instance
endpoints) without a restart."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from mastodon import Mastodon
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.kit import FLURFUNK, RunningNode, User
from tests.stream_kit import settled, ws_url


def password_grant(node: RunningNode, user: User, password: str) -> httpx.Response:
    node.app_token()
    assert node._app is not None
    return httpx.post(
        node.url + "/oauth/token",
        timeout=30,
        data={
            "grant_type": "password",
            "username": user.name,
            "password": password,
            "client_id": node._app["client_id"],
            "client_secret": node._app["client_secret"],
            "scope": "read write",
        },
    )


def me(node: RunningNode, user: User) -> httpx.Response:
    return node.api(user, "GET", "/api/v1/accounts/verify_credentials")


class OpenStream:
    """A user stream (SSE) read in the background: `ended` is set when the node ends it."""

    def __init__(self, node: RunningNode, token: str) -> None:
        self.ended = threading.Event()
        self.opened = threading.Event()
        self.events: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(node, token), daemon=True)
        self._thread.start()
        assert self.opened.wait(20), "the stream did not open"

    def _read(self, node: RunningNode, token: str) -> None:
        url = node.url + "/api/v1/streaming/user"
        with httpx.stream("GET", url, params={"access_token": token}, timeout=60) as answer:
            assert answer.status_code == 200
            for line in answer.iter_lines():
                self.opened.set()
                if line.startswith("event:"):
                    self.events.append(line)
        self.ended.set()


def test_suspended_user_loses_the_stream_reads_why_and_comes_back(node: RunningNode) -> None:
    user = node.create_user("suspendee")
    stream = OpenStream(node, user.token)
    with connect(ws_url(node, f"?stream=user&access_token={user.token}")) as ws:
        settled(ws)
        result = node.cli("user", "suspend", user.name, "--reason", "Leaked the roadmap")
        assert f"suspended {user.name}" in result.stdout
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=20)  # nothing was posted: the next thing is the close
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1008

    # Still signed in, to learn why; everything else answers the reason.
    assert me(node, user).status_code == 200
    assert password_grant(node, user, user.password).status_code == 200
    refused = node.api(user, "GET", "/api/v1/timelines/home")
    assert (refused.status_code, refused.json()) == (
        403,
        {"error": "This account is suspended: Leaked the roadmap"},
    )
    assert stream.ended.wait(20), "the suspended user's stream stayed open"
    listed = node.cli("user", "list", "--search", user.name).stdout
    assert re.search(rf"^{user.name}\s+user\s+suspended\s", listed, re.M), listed
    assert "was suspended already" in node.cli("user", "suspend", user.name).stdout

    node.cli("user", "unsuspend", user.name)
    assert node.api(user, "GET", "/api/v1/timelines/home").status_code == 200


def test_a_disabled_user_loses_every_sign_in_until_enabled(node: RunningNode) -> None:
    user = node.create_user("disablee")
    result = node.cli("user", "disable", user.name, "--reason", "Left the company")
    assert f"disabled {user.name}" in result.stdout
    assert me(node, user).status_code == 401
    assert password_grant(node, user, user.password).status_code in (400, 401, 403)
    assert "was disabled already" in node.cli("user", "disable", user.name).stdout

    node.cli("user", "enable", user.name)
    assert me(node, user).status_code == 401  # the old token stays revoked
    again = password_grant(node, user, user.password)
    assert again.status_code == 200, again.text
    user.token = again.json()["access_token"]
    assert me(node, user).json()["username"] == user.name


def test_reset_password_prints_a_new_one_that_signs_in_and_ends_the_old_token(
    node: RunningNode,
) -> None:
    user = node.create_user("forgetful")
    result = node.cli("user", "reset-password", user.name)
    new_password = result.stdout.strip().splitlines()[-1]
    assert len(new_password) >= 16
    assert " " not in new_password

    assert me(node, user).status_code == 401
    assert password_grant(node, user, user.password).status_code != 200
    signed_in = password_grant(node, user, new_password)
    assert signed_in.status_code == 200, signed_in.text


def test_role_change_shows_in_verify_credentials(node: RunningNode) -> None:
    user = node.create_user("promoted")
    assert me(node, user).json()["role"]["name"] == ""

    assert "user -> moderator" in node.cli("user", "role", user.name, "moderator").stdout
    assert me(node, user).json()["role"]["name"] == "Moderator"
    node.cli("user", "role", user.name, "user")
    assert me(node, user).json()["role"]["name"] == ""

    wrong = node.cli("user", "role", user.name, "emperor", check=False)
    assert wrong.returncode == 2
    assert "unknown role 'emperor'" in wrong.stderr


def test_unknown_user_and_the_last_admin_are_refused(node: RunningNode) -> None:
    for command in ("suspend", "unsuspend", "reset-password"):
        answer = node.cli("user", command, "nobody-here", check=False)
        assert answer.returncode == 2
        assert "no local user 'nobody-here'" in answer.stderr
    last = node.cli("user", "delete", "admin", "--yes", check=False)
    assert last.returncode == 2
    assert "last admin" in last.stderr


def test_delete_asks_for_confirmation_then_removes_and_keeps_the_name(node: RunningNode) -> None:
    user = node.create_user("leaver")
    posted = node.api(user, "POST", "/api/v1/statuses", json={"status": "goodbye"}).json()

    unconfirmed = node.cli("user", "delete", user.name, check=False)
    assert unconfirmed.returncode == 2
    assert "--yes" in unconfirmed.stderr
    assert me(node, user).status_code == 200

    node.cli("user", "delete", user.name, "--yes")
    assert me(node, user).status_code == 401
    reader = node.create_user("reader")
    assert node.api(reader, "GET", f"/api/v1/statuses/{posted['id']}").status_code == 404
    assert node.api(reader, "GET", f"/api/v1/accounts/{user.id}").status_code == 404
    assert user.name not in node.cli("user", "list").stdout
    again = node.cli("user", "create", user.name, "--password", "long-enough-1", check=False)
    assert again.returncode == 2
    assert "taken" in again.stderr


def test_boost_answer_says_reblogged_on_the_wrapper(node: RunningNode) -> None:
    author, booster = node.create_user("boosted"), node.create_user("booster")
    original = node.api(author, "POST", "/api/v1/statuses", json={"status": "boost me"}).json()
    boost = node.api(booster, "POST", f"/api/v1/statuses/{original['id']}/reblog")
    assert boost.status_code == 200
    data = boost.json()
    assert data["reblog"]["id"] == original["id"]
    assert data["reblogged"] is True
    assert data["reblog"]["reblogged"] is True


def test_node_description_and_rules_show_in_the_instance_endpoints(node: RunningNode) -> None:
    try:
        node.cli(
            "node",
            "set",
            "--name",
            "Flurfunk HQ",
            "--description",
            "Where HQ talks.",
            "--contact-email",
            "it@hq.example",
        )
        added = node.cli("node", "rule", "add", "Be kind", "--hint", "to everyone")
        rule_id = added.stdout.strip().splitlines()[-1]
        node.cli("node", "rule", "add", "No secrets")

        v1 = httpx.get(node.url + "/api/v1/instance").json()
        v2 = httpx.get(node.url + "/api/v2/instance").json()
        assert (v1["title"], v1["description"], v1["email"]) == (
            "Flurfunk HQ",
            "Where HQ talks.",
            "it@hq.example",
        )
        assert (v2["title"], v2["description"], v2["contact"]["email"]) == (
            "Flurfunk HQ",
            "Where HQ talks.",
            "it@hq.example",
        )
        assert [r["text"] for r in v2["rules"]] == ["Be kind", "No secrets"]
        assert v1["rules"][0] == {"id": rule_id, "text": "Be kind", "hint": "to everyone"}

        node.cli("node", "rule", "remove", rule_id)
        rules = httpx.get(node.url + "/api/v1/instance/rules").json()
        assert [r["text"] for r in rules] == ["No secrets"]
        missing = node.cli("node", "rule", "remove", rule_id, check=False)
        assert missing.returncode == 2
    finally:
        node.cli("node", "set", "--name", "", "--description", "", "--contact-email", "")
        for line in node.cli("node", "rule", "list").stdout.splitlines():
            if line.split()[0].isdigit():
                node.cli("node", "rule", "remove", line.split()[0])
    assert httpx.get(node.url + "/api/v2/instance").json()["title"] == "Flurfunk"


def test_user_commands_have_help(node: RunningNode) -> None:
    for command in ("list", "invite", "suspend", "unsuspend", "reset-password", "role", "delete"):
        helped = node.cli("user", command, "--help")
        assert helped.stdout.startswith(f"usage: flurfunk user {command}")


def test_invite_prints_a_link_last_that_opens_the_invite_page(node: RunningNode) -> None:
    name = "ines" + secrets.token_hex(3)
    invited = node.cli("user", "invite", name, "--role", "moderator")
    link = invited.stdout.strip().splitlines()[-1]
    assert link.startswith(node.url + "/auth/invite/")
    assert "works once" in invited.stdout
    path = link.removeprefix(node.url)
    page = httpx.get(node.url + path, headers={"Accept": "text/html"}, timeout=30)
    assert page.status_code == 200
    assert f"Welcome, {name}" in page.text
    assert name in node.cli("user", "list", "--search", name).stdout
    unknown = httpx.get(node.url + path[:-3] + "abc", headers={"Accept": "text/html"}, timeout=30)
    assert unknown.status_code == 404
    taken = node.cli("user", "invite", name, check=False)
    assert taken.returncode == 2
    assert "taken" in taken.stderr
    too_long = node.cli("user", "invite", name + "x", "--days", "365", check=False)
    assert too_long.returncode == 2
    assert "--days" in too_long.stderr


# --- without a running node ------------------------------------------------------------------


@pytest.fixture
def fresh_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLURFUNK_")}
    env.update(FLURFUNK_DATA_DIR=str(tmp_path), FLURFUNK_CONFIG=str(tmp_path / "none.toml"))
    return env


def test_empty_allowlist_says_the_node_federates_with_nobody(fresh_env: dict[str, str]) -> None:
    subprocess.run([FLURFUNK, "migrate"], env=fresh_env, check=True, capture_output=True)
    listed = subprocess.run(
        [FLURFUNK, "allowlist", "list"], env=fresh_env, capture_output=True, text=True, check=True
    )
    assert "federates with nobody" in listed.stdout


@dataclass
class UnsetUrlNode(RunningNode):
    """A node started without FLURFUNK_PUBLIC_URL."""

    base_env: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        return {**self.base_env, "FLURFUNK_DATABASE_URL": self.database_url}


def test_serve_on_another_port_hands_out_urls_for_that_port(
    fresh_env: dict[str, str], tmp_path: Path
) -> None:
    """Without PUBLIC_URL, ids and links name the port `serve --port` listens on, also for
    accounts the CLI creates."""
    node = UnsetUrlNode(data_dir=tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path}/f.db")
    node.base_env = fresh_env
    node.start()
    try:
        instance = httpx.get(node.url + "/api/v2/instance").json()
        assert instance["domain"] == f"127.0.0.1:{node.port}"
        assert instance["configuration"]["urls"]["streaming"] == f"ws://127.0.0.1:{node.port}"
        webfinger = httpx.get(
            node.url + "/.well-known/webfinger",
            params={"resource": f"acct:admin@127.0.0.1:{node.port}"},
        )
        assert webfinger.status_code == 200
        assert f"http://127.0.0.1:{node.port}/users/admin" in webfinger.text
        # The CLI, run beside it without PUBLIC_URL either, builds the same addresses.
        node.cli("user", "create", "latecomer", "--password", "long-enough-1")
        webfinger = httpx.get(
            node.url + "/.well-known/webfinger",
            params={"resource": f"acct:latecomer@127.0.0.1:{node.port}"},
        )
        assert f"http://127.0.0.1:{node.port}/users/latecomer" in webfinger.text
    finally:
        node.stop()


def test_readme_mastodon_py_snippet_works_on_http(node: RunningNode, tmp_path: Path) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    snippet = re.search(r"With Mastodon\.py:\n\n```python\n(.*?)```", readme, re.S)
    assert snippet is not None
    user = node.create_user("scripted")
    code = (
        snippet.group(1)
        .replace("http://127.0.0.1:8000", node.url)
        .replace('"admin", "…"', f'"{user.name}", "{user.password}"')
    )
    cwd = Path.cwd()
    os.chdir(tmp_path)  # the snippet writes app.secret and user.secret where it runs
    try:
        exec(compile(code, "README.md", "exec"), {"Mastodon": Mastodon})
    finally:
        os.chdir(cwd)
    posted = node.api(user, "GET", f"/api/v1/accounts/{user.id}/statuses").json()
    assert [s["content"] for s in posted] == ["<p>Hallo Flurfunk!</p>"]
