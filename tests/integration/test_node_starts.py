"""The node starts, migrates itself and announces its first admin exactly once."""

from __future__ import annotations

from tests.kit import RunningNode


def test_first_start_prints_admin_password_that_signs_in(node: RunningNode) -> None:
    assert len(node.admin_password) >= 16
    token = node.cli("user", "token", "admin").stdout.strip().splitlines()[-1]
    assert len(token) == 43
    me = node.api(None, "GET", "/livez")
    assert me.status_code == 200


def test_migrate_is_idempotent(node: RunningNode) -> None:
    first = node.cli("migrate")
    second = node.cli("migrate")
    assert first.returncode == second.returncode == 0


def test_unknown_api_path_is_a_json_404(node: RunningNode) -> None:
    response = node.api(None, "GET", "/api/v1/no_such_thing")
    assert response.status_code == 404
    assert response.json() == {"error": "Record not found"}


def test_cli_created_user_gets_a_working_43_character_token(node: RunningNode) -> None:
    user = node.create_user("cli", via_cli=True)
    assert len(user.token) == 43
    me = node.api(user, "GET", "/api/v1/accounts/verify_credentials")
    assert me.status_code == 200
    assert me.json()["username"] == user.name


def test_cli_refuses_a_taken_name_with_a_clear_message(node: RunningNode) -> None:
    user = node.create_user("dup")
    again = node.cli("user", "create", user.name, "--password", "long-enough-pw", check=False)
    assert again.returncode == 2
    assert "taken" in again.stderr
