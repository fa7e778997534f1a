"""What the node answers for features it does not offer: refusals with a reason, empty lists
where emptiness is the truth, and never a success that stores nothing."""

from __future__ import annotations

from tests.integration.test_timelines import post
from tests.kit import RunningNode, User


def test_writes_are_refused_with_a_reason(node: RunningNode, alice: User, bob: User) -> None:
    status = post(node, alice, "Quote me if you can")
    refused = [
        (
            "PUT",
            f"/api/v1/statuses/{status['id']}/interaction_policy",
            {"quote_approval_policy": "public"},
        ),
        ("PUT", "/api/v1/profile", {"display_name": "Alice"}),
        ("POST", "/api/v1/emails/confirmations", {}),
    ]
    for method, path, data in refused:
        response = node.api(alice, method, path, data=data)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["error"].startswith("Validation failed: "), path
    me = node.api(alice, "GET", "/api/v1/accounts/verify_credentials").json()
    assert me["display_name"] != "Alice"  # the refused profile write changed nothing
    # Every post says that nobody can quote it here, so Mastodon 4.5 apps offer no quoting.
    shown = node.api(bob, "GET", f"/api/v1/statuses/{status['id']}").json()
    assert shown["quote_approval"] == {"automatic": [], "manual": [], "current_user": "denied"}
    assert shown["quote"] is None
    # Someone else's post has no policy of ours to set: it is not found for that purpose.
    other = node.api(bob, "PUT", f"/api/v1/statuses/{status['id']}/interaction_policy")
    assert other.status_code == 404


def test_reads_find_nothing_that_is_not_kept(node: RunningNode, alice: User, bob: User) -> None:
    status = post(node, alice, "No quotes here")
    private = post(node, alice, "Followers only", visibility="private")
    assert node.api(bob, "GET", f"/api/v1/statuses/{status['id']}/quotes").json() == []
    assert node.api(bob, "GET", f"/api/v1/accounts/{alice.id}/collections").json() == []
    not_found = [
        ("GET", f"/api/v1/statuses/{private['id']}/quotes"),  # bob may not see it
        ("POST", f"/api/v1/statuses/{private['id']}/translate"),
        ("POST", f"/api/v1/statuses/{status['id']}/translate"),  # no translation service
        ("GET", "/api/v1/accounts/1/collections"),
        ("GET", "/api/v1/collections/1"),
        ("POST", f"/api/v1/statuses/{status['id']}/quotes/1/revoke"),
        ("GET", "/api/v1_alpha/async_refreshes/1"),
        ("GET", "/api/v1/profile"),
    ]
    for method, path in not_found:
        response = node.api(bob, method, path)
        assert response.status_code == 404, (path, response.text)
        assert response.json() == {"error": "Record not found"}
    instance = node.api(None, "GET", "/api/v2/instance").json()
    assert instance["configuration"]["translation"] == {"enabled": False}
