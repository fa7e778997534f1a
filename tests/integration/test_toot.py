"""toot, the terminal client, logs in (password and browser code) and posts."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.integration.test_oauth import Forms, consent
from tests.kit import RunningNode, User

TOOT = str(Path(sys.executable).with_name("toot"))


@pytest.fixture
def toot_env(tmp_path: Path) -> dict[str, str]:
    """toot keeps its apps and tokens under XDG_CONFIG_HOME: one fresh directory per test."""
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "config"), NO_COLOR="1")
    env.pop("TOOT_TESTING", None)
    return env


def toot(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TOOT, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def login_cli(
    env: dict[str, str], node: RunningNode, user: User
) -> subprocess.CompletedProcess[str]:
    return toot(
        env, "login_cli", "--instance", node.url, "--email", user.email, "--password", user.password
    )


def test_login_cli_then_whoami_and_post(
    node: RunningNode, alice: User, toot_env: dict[str, str]
) -> None:
    login = login_cli(toot_env, node, alice)
    assert login.returncode == 0, login.stdout + login.stderr
    assert "Successfully logged in" in login.stdout

    whoami = toot(toot_env, "whoami")
    assert whoami.returncode == 0, whoami.stderr
    assert f"@{alice.name}" in whoami.stdout

    text = "Hallo aus dem Terminal " + secrets.token_hex(4)
    posted = toot(toot_env, "post", text)
    assert posted.returncode == 0, posted.stderr
    statuses = node.api(alice, "GET", f"/api/v1/accounts/{alice.id}/statuses").json()
    assert any(text in status["content"] for status in statuses)


def test_login_cli_with_a_wrong_password_fails(
    node: RunningNode, alice: User, toot_env: dict[str, str]
) -> None:
    login = toot(
        toot_env,
        "login_cli",
        "--instance",
        node.url,
        "--email",
        alice.email,
        "--password",
        "wrong-password",
    )
    assert login.returncode != 0
    assert "Login failed" in login.stdout + login.stderr


def test_browser_login_with_a_pasted_code(
    node: RunningNode, alice: User, toot_env: dict[str, str]
) -> None:
    process = subprocess.Popen(
        [TOOT, "login", "--instance", node.url],
        env=toot_env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        url = ""
        while not url:
            line = process.stdout.readline()
            assert line, "toot exited before printing the login URL"
            if line.startswith("http"):
                url = line.strip()
        with httpx.Client() as browser:
            page = consent(browser, node, alice, url)
        code = Forms(page.text).code
        assert code
        output, _ = process.communicate(f"n\n{code}\n", timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output
    assert "Successfully logged in" in output
    assert f"@{alice.name}" in toot(toot_env, "whoami").stdout


def test_search_finds_a_post_by_another_form_of_its_word(
    node: RunningNode, alice: User, bob: User, toot_env: dict[str, str]
) -> None:
    marker = secrets.token_hex(4)
    text = f"The quarterly reports are ready {marker}"
    assert node.api(bob, "POST", "/api/v1/statuses", data={"status": text}).is_success
    login = login_cli(toot_env, node, alice)
    assert login.returncode == 0, login.stdout + login.stderr

    found = toot(toot_env, "search", "--type", "statuses", "--json", f"report {marker}")
    assert found.returncode == 0, found.stderr
    statuses = json.loads(found.stdout)["statuses"]
    assert [s["content"] for s in statuses] == [f"<p>{text}</p>"]
    assert statuses[0]["account"]["acct"] == bob.name
