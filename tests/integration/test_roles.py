"""Roles and permissions from the command line and the API, against a running node: custom
roles give exactly their permissions, every refusal names the missing one, and
verify_credentials shows the role as Mastodon's Role entity."""

from __future__ import annotations

import secrets

from tests.kit import RunningNode, User


def with_scopes(node: RunningNode, user: User, scopes: str) -> User:
    token = node.cli("user", "token", user.name, "--scopes", scopes).stdout.split()[-1]
    return User(user.name, user.password, user.email, token)


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


def test_cli_creates_lists_and_deletes_roles(node: RunningNode) -> None:
    name = unique("fed")
    made = node.cli("role", "create", name, "--permissions", "manage_allowlist,announce")
    assert f"created role {name}: announce, manage_allowlist" in made.stdout
    assert made.stdout.split()[-1].isdigit()  # its id, for scripts

    listed = node.cli("role", "list").stdout
    row = next(line for line in listed.splitlines() if line.startswith(name + " "))
    assert "custom" in row
    assert "manage_allowlist,announce" in row
    for built_in in ("owner", "admin", "moderator", "user"):
        assert any(line.startswith(built_in + " ") for line in listed.splitlines())

    holder = node.create_user("holder", via_cli=True)
    assert f"user -> {name}" in node.cli("user", "role", holder.name, name).stdout
    in_use = node.cli("role", "delete", name, check=False)
    assert in_use.returncode == 2
    assert "held by 1 account" in in_use.stderr
    node.cli("user", "role", holder.name, "user")
    assert f"deleted role {name}" in node.cli("role", "delete", name).stdout
    assert name not in node.cli("role", "list").stdout


def test_cli_refuses_unknown_permissions_and_built_in_roles(node: RunningNode) -> None:
    wrong = node.cli("role", "create", unique("x"), "--permissions", "fly,announce", check=False)
    assert wrong.returncode == 2
    assert "unknown permission 'fly'" in wrong.stderr
    assert "administer_users" in wrong.stderr  # the valid names are listed
    for bad in ("Bad Name", "admin"):
        refused = node.cli("role", "create", bad, "--permissions", "announce", check=False)
        assert refused.returncode == 2, bad
    assert node.cli("role", "delete", "moderator", check=False).returncode == 2
    assert "no role" in node.cli("role", "delete", unique("nope"), check=False).stderr


def test_a_custom_role_gives_exactly_its_permissions(node: RunningNode) -> None:
    name = unique("fed")
    node.cli("role", "create", name, "--permissions", "manage_allowlist", "--color", "#3366CC")
    keeper = node.create_user("keeper", via_cli=True)
    node.cli("user", "role", keeper.name, name)
    keeper = with_scopes(node, keeper, "read write admin:read admin:write")

    me = node.api(keeper, "GET", "/api/v1/accounts/verify_credentials").json()
    assert me["role"]["name"] == name
    assert me["role"]["color"] == "#3366cc"
    assert me["role"]["permissions"] == str(1 << 5)  # Mastodon's manage_federation
    assert me["role"]["highlighted"] is True

    listed = node.api(keeper, "GET", "/api/v1/flurfunk/roles").json()
    mine = next(r for r in listed if r["name"] == name)
    assert mine["permissions"] == ["manage_allowlist"]
    assert set(mine) >= {"id", "name", "color", "permissions"}

    refused = node.api(
        keeper, "POST", "/api/v1/flurfunk/roles", json={"name": unique("r"), "permissions": []}
    )
    assert refused.status_code == 403
    assert refused.json() == {"error": "This action requires the permission manage_roles"}
    # Peer health is for those who look after federation; retries are manage_node's.
    assert node.api(keeper, "GET", "/api/v1/admin/peers").status_code == 200
    retry = node.api(keeper, "POST", "/api/v1/admin/deliveries/1/retry")
    assert retry.json() == {"error": "This action requires the permission manage_node"}


def test_roles_api_creates_changes_and_deletes(node: RunningNode) -> None:
    boss = node.create_user("boss", via_cli=True)
    node.cli("user", "role", boss.name, "admin")
    boss = with_scopes(node, boss, "read write admin:read admin:write")
    name = unique("comms")

    made = node.api(
        boss,
        "POST",
        "/api/v1/flurfunk/roles",
        json={"name": name, "color": "#aa0000", "permissions": ["announce", "view_audit_log"]},
    )
    assert made.status_code == 200, made.text
    role = made.json()
    assert role["permissions"] == ["announce", "view_audit_log"]
    changed = node.api(
        boss, "PATCH", f"/api/v1/flurfunk/roles/{role['id']}", json={"permissions": ["announce"]}
    )
    assert changed.json()["permissions"] == ["announce"]

    for body, reason in (
        ({"name": name, "permissions": ["announce"]}, "exists already"),
        ({"name": unique("x"), "permissions": ["fly"]}, "unknown permission 'fly'"),
        ({"name": unique("x"), "permissions": [], "color": "red"}, "invalid colour"),
        ({"name": "", "permissions": []}, "invalid role name"),
    ):
        bad = node.api(boss, "POST", "/api/v1/flurfunk/roles", json=body)
        assert bad.status_code == 422, body
        assert reason in bad.json()["error"]

    holder = node.create_user("holder", via_cli=True)
    node.cli("user", "role", holder.name, name)
    in_use = node.api(boss, "DELETE", f"/api/v1/flurfunk/roles/{role['id']}")
    assert in_use.status_code == 422
    assert "held by 1 account" in in_use.json()["error"]
    built_in = node.api(boss, "DELETE", "/api/v1/flurfunk/roles/3")
    assert built_in.status_code == 422
    assert node.api(boss, "DELETE", "/api/v1/flurfunk/roles/123456").status_code == 404
    assert node.api(boss, "DELETE", "/api/v1/flurfunk/roles/abc").status_code == 404

    node.cli("user", "role", holder.name, "user")
    gone = node.api(boss, "DELETE", f"/api/v1/flurfunk/roles/{role['id']}")
    assert gone.status_code == 200
    names = [r["name"] for r in node.api(boss, "GET", "/api/v1/flurfunk/roles").json()]
    assert name not in names


def test_built_in_roles_keep_their_meaning(node: RunningNode) -> None:
    mod = node.create_user("mod", via_cli=True)
    node.cli("user", "role", mod.name, "moderator")
    me = node.api(mod, "GET", "/api/v1/accounts/verify_credentials").json()
    assert me["role"] == {
        "id": "2",
        "name": "Moderator",
        "color": "",
        "permissions": str((1 << 10) | (1 << 4) | (1 << 2)),
        "highlighted": True,
    }
    mod = with_scopes(node, mod, "read write admin:read admin:write")
    refused = node.api(
        mod, "POST", "/api/v1/flurfunk/roles", json={"name": unique("m"), "permissions": []}
    )
    assert refused.json() == {"error": "This action requires the permission manage_roles"}
