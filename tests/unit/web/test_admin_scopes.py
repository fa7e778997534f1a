"""Mastodon's admin sub-scopes: `admin:read`/`admin:write` include them, a sub-scope grants
only itself, and `read`/`write` grant none of them."""

from __future__ import annotations

from web.auth import scope_allows, unknown_scopes


def test_admin_scopes_imply_their_sub_scopes_only() -> None:
    assert scope_allows(frozenset({"admin:read"}), "admin:read:accounts")
    assert scope_allows(frozenset({"admin:write"}), "admin:write:domain_allows")
    assert not scope_allows(frozenset({"admin:read"}), "admin:write:accounts")
    assert not scope_allows(frozenset({"read", "write"}), "admin:read:accounts")
    sub = frozenset({"admin:read:domain_allows"})
    assert scope_allows(sub, "admin:read:domain_allows")
    assert not scope_allows(sub, "admin:read:accounts")
    assert not scope_allows(sub, "admin:read")


def test_apps_may_ask_for_the_sub_scopes() -> None:
    assert unknown_scopes(["admin:read:accounts", "admin:write:domain_allows"]) == []
    assert unknown_scopes(["admin:read:reports", "admin:read:fly"]) == ["admin:read:fly"]
