"""Mastodon's admin API through Mastodon.py against a running node: an admin lists, suspends
(the user's token then only reads why) and unsuspends accounts; a custom role with only
manage_allowlist changes the allowlist through domain_allows (the CLI sees the change, the
audit log names who made it) but is refused the accounts; plain users are refused; unknown ids
are 404 and bad patterns 422."""

from __future__ import annotations

import asyncio
import secrets

import pytest
from mastodon import Mastodon, MastodonAPIError

from models import admin
from models.db import Database
from tests.kit import RunningNode, User

ADMIN_SCOPES = "read write admin:read admin:write"


def client(node: RunningNode, user: User) -> Mastodon:
    return Mastodon(access_token=user.token, api_base_url=node.url, version_check_mode="none")


def token(node: RunningNode, user: User, scopes: str) -> User:
    made = node.cli("user", "token", user.name, "--scopes", scopes).stdout.split()[-1]
    return User(user.name, user.password, user.email, made)


def staff(node: RunningNode, prefix: str, role: str, scopes: str = ADMIN_SCOPES) -> User:
    person = node.create_user(prefix, via_cli=True)
    node.cli("user", "role", person.name, role)
    return token(node, person, scopes)


def refusal(call: object) -> tuple[int, str]:
    """The status and error text of a call Mastodon.py raised for."""
    with pytest.raises(MastodonAPIError) as raised:
        call()  # type: ignore[operator]
    status, error = raised.value.args[1], raised.value.args[3]
    return status, error


def audit(node: RunningNode) -> list[tuple[str, str, str]]:
    async def read() -> list[tuple[str, str, str]]:
        db = Database(node.database_url)
        try:
            async with db.read() as session:
                return [(e.operator, e.action, e.target) for e in await admin.audit_log(session)]
        finally:
            await db.dispose()

    return asyncio.run(read())


def test_an_admin_lists_suspends_and_unsuspends(node: RunningNode) -> None:
    boss = client(node, staff(node, "boss", "admin"))
    victim = node.create_user("victim")
    victim_id = node.api(victim, "GET", "/api/v1/accounts/verify_credentials").json()["id"]

    found = boss.admin_accounts_v2(origin="local", username=victim.name)
    assert [a["username"] for a in found] == [victim.name]
    entry = boss.admin_account(victim_id)
    assert entry["email"] == victim.email
    assert entry["domain"] is None
    assert entry["suspended"] is False
    assert entry["account"]["acct"] == victim.name
    assert entry["role"]["name"] == ""  # the everyone role, as Mastodon shows it
    staff_names = {a["username"] for a in boss.admin_accounts_v2(permissions="staff")}
    assert victim.name not in staff_names

    boss.admin_account_moderate(victim_id, action="suspend")
    assert node.api(victim, "GET", "/api/v1/accounts/verify_credentials").status_code == 200
    refused = node.api(victim, "GET", "/api/v1/timelines/home")
    assert refused.status_code == 403
    assert refused.json()["error"].startswith("This account is suspended: ")
    assert boss.admin_account(victim_id)["suspended"] is True
    suspended = boss.admin_accounts_v2(status="suspended", username=victim.name)
    assert [a["id"] for a in suspended] == [victim_id]
    assert not boss.admin_accounts_v2(status="active", username=victim.name)
    assert ("user.suspend", victim.name) in [(a, t) for _, a, t in audit(node)]

    assert boss.admin_account_unsuspend(victim_id)["suspended"] is False
    assert node.api(victim, "GET", "/api/v1/timelines/home").status_code == 200
    assert ("user.unsuspend", victim.name) in [(a, t) for _, a, t in audit(node)]


def test_unknown_actions_and_bad_ids_are_refused_with_reasons(node: RunningNode) -> None:
    boss = client(node, staff(node, "boss", "admin"))
    victim = node.create_user("victim")
    victim_id = node.api(victim, "GET", "/api/v1/accounts/verify_credentials").json()["id"]

    status, error = refusal(lambda: boss.admin_account_moderate(victim_id, "vanish"))
    assert status == 422
    assert "type must be one of" in error
    status, error = refusal(lambda: boss.admin_account_approve(victim_id))
    assert status == 403
    assert "not pending" in error
    status, error = refusal(lambda: boss.admin_account_delete(victim_id))
    assert (status, error) == (403, "Only a suspended account can be deleted: suspend it first")
    for bad in ("1", "abc", "99999999999999999999"):
        status, error = refusal(lambda bad=bad: boss.admin_account(bad))
        assert (status, error) == (404, "Record not found"), bad
    # Neither the refusals nor the 404s changed anything.
    assert boss.admin_account(victim_id)["suspended"] is False


def test_delete_needs_a_suspended_account_and_federates_through_the_delete_action(
    node: RunningNode,
) -> None:
    boss = client(node, staff(node, "boss", "admin"))
    moderator = client(node, staff(node, "mod", "moderator"))
    victim = node.create_user("victim")
    victim_id = node.api(victim, "GET", "/api/v1/accounts/verify_credentials").json()["id"]
    moderator.admin_account_moderate(victim_id, action="suspend")
    # The same refusals as /admin/users: deleting also decides about roles.
    status, error = refusal(lambda: moderator.admin_account_delete(victim_id))
    assert (status, error) == (403, "This action requires the permission manage_roles")
    boss.admin_account_delete(victim_id)
    assert ("user.delete", victim.name) in [(a, t) for _, a, t in audit(node)]
    assert victim.name not in node.cli("user", "list").stdout
    status, error = refusal(lambda: boss.admin_account_unsuspend(victim_id))
    assert (status, error) == (422, "Validation failed: this account was deleted")


def test_a_role_with_only_manage_allowlist_changes_domain_allows(node: RunningNode) -> None:
    role = f"fed-{secrets.token_hex(3)}"
    node.cli("role", "create", role, "--permissions", "manage_allowlist")
    keeper_user = staff(node, "keeper", role)
    keeper = client(node, keeper_user)
    domain = f"peer-{secrets.token_hex(3)}.example"

    made = keeper.admin_create_domain_allow(domain.upper())
    assert made["domain"] == domain
    assert domain in node.cli("allowlist", "list").stdout.split()
    assert keeper.admin_domain_allow(made["id"])["domain"] == domain
    assert domain in [d["domain"] for d in keeper.admin_domain_allows(limit=200)]
    again = keeper.admin_create_domain_allow(domain)  # a duplicate answers the existing entry
    assert again["id"] == made["id"]
    wildcard = keeper.admin_create_domain_allow(f"*.dept-{secrets.token_hex(3)}.example:8443")
    assert wildcard["domain"].startswith("*.dept-")

    first = node.api(keeper_user, "GET", "/api/v1/admin/domain_allows", params={"limit": 1})
    assert len(first.json()) == 1
    older = keeper.fetch_next(keeper.admin_domain_allows(limit=1))  # follows the Link header
    assert older
    assert older[0]["id"] != first.json()[0]["id"]

    keeper.admin_delete_domain_allow(made["id"])
    assert domain not in node.cli("allowlist", "list").stdout.split()
    log = audit(node)
    assert (keeper_user.name, "allowlist.add", domain) in log
    assert (keeper_user.name, "allowlist.remove", domain) in log
    assert log.count((keeper_user.name, "allowlist.add", domain)) == 1  # not for the duplicate

    for bad in ("https://x.example/", "*", "a..b", "*.*.example"):
        status, error = refusal(lambda bad=bad: keeper.admin_create_domain_allow(bad))
        assert status == 422, bad
        assert error.startswith("Validation failed"), error
    for bad in ("1", "abc"):
        assert refusal(lambda bad=bad: keeper.admin_domain_allow(bad)) == (
            404,
            "Record not found",
        )
        assert refusal(lambda bad=bad: keeper.admin_delete_domain_allow(bad))[0] == 404

    # Mastodon.py drops the error text of a refused list call: read the answer itself.
    listed = node.api(keeper_user, "GET", "/api/v2/admin/accounts")
    assert listed.status_code == 403
    assert listed.json() == {"error": "This action requires the permission administer_users"}
    assert refusal(keeper.admin_accounts_v2)[0] == 403
    status, error = refusal(lambda: keeper.admin_account_moderate(made["id"], action="suspend"))
    assert (status, error) == (403, "This action requires the permission administer_users")


def test_plain_users_and_narrow_tokens_are_refused(node: RunningNode, alice: User) -> None:
    plain_user = token(node, alice, ADMIN_SCOPES)
    plain = client(node, plain_user)
    for call, permission, path in (
        (plain.admin_accounts_v2, "administer_users", "/api/v2/admin/accounts"),
        (plain.admin_domain_allows, "manage_allowlist", "/api/v1/admin/domain_allows"),
    ):
        assert refusal(call)[0] == 403
        answer = node.api(plain_user, "GET", path)
        assert answer.json() == {"error": f"This action requires the permission {permission}"}
    status, error = refusal(lambda: plain.admin_create_domain_allow("x.example"))
    assert (status, error) == (403, "This action requires the permission manage_allowlist")
    # The admin's token without admin scopes reaches nothing; a sub-scope reaches only its own.
    boss = node.create_user("boss", via_cli=True)
    node.cli("user", "role", boss.name, "admin")
    no_admin = client(node, token(node, boss, "read write"))
    assert refusal(no_admin.admin_accounts_v2)[0] == 403
    outside = node.api(token(node, boss, "read write"), "GET", "/api/v1/admin/accounts")
    assert outside.json() == {"error": "This action is outside the authorized scopes"}
    narrow = client(node, token(node, boss, "admin:read:domain_allows"))
    assert isinstance(narrow.admin_domain_allows(), list)
    assert refusal(narrow.admin_accounts_v2)[0] == 403
    assert refusal(lambda: narrow.admin_create_domain_allow("x.example"))[0] == 403
    accounts = client(node, token(node, boss, "admin:read:accounts"))
    assert accounts.admin_accounts_v2(origin="local")
