"""The admin API for peer health and retries: who may call it, and what bad input gets."""

from __future__ import annotations

from tests.kit import RunningNode, User


def admin_token(node: RunningNode, user: User, scopes: str) -> User:
    token = node.cli("user", "token", user.name, "--scopes", scopes).stdout.split()[-1]
    return User(user.name, user.password, user.email, token)


def test_only_staff_with_the_admin_scope_read_peers_and_retry(
    node: RunningNode, alice: User
) -> None:
    boss = node.create_user("boss", via_cli=True)
    node.cli("user", "role", boss.name, "admin")
    mod = node.create_user("mod", via_cli=True)
    node.cli("user", "role", mod.name, "moderator")

    reader = admin_token(node, boss, "admin:read")
    peers = node.api(reader, "GET", "/api/v1/admin/peers")
    assert peers.status_code == 200
    assert isinstance(peers.json(), list)
    assert node.api(boss, "GET", "/api/v1/admin/peers").status_code == 403  # no admin scope
    assert node.api(reader, "POST", "/api/v1/admin/deliveries/1/retry").status_code == 403
    plain = admin_token(node, alice, "admin:read admin:write")
    assert node.api(plain, "GET", "/api/v1/admin/peers").status_code == 403

    moderator = admin_token(node, mod, "admin:read admin:write")
    assert node.api(moderator, "GET", "/api/v1/admin/peers").status_code == 200
    refused = node.api(moderator, "POST", "/api/v1/admin/deliveries/1/retry")
    assert refused.status_code == 403
    assert refused.json() == {"error": "This action requires the permission manage_node"}

    writer = admin_token(node, boss, "admin:write")
    for target in ("1", "99999999999999999999", "abc", "-1"):
        missing = node.api(writer, "POST", f"/api/v1/admin/deliveries/{target}/retry")
        assert missing.status_code == 404, target
        assert missing.json() == {"error": "Record not found"}
