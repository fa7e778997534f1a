"""Moderation actions, warnings and appeals through Mastodon.py against a running node.

A moderator suspends someone with a reason: the person still signs in, reads the reason in a
`moderation_warning` notification and in the 403 of every other call, and appeals; the same
moderator may not decide the appeal, another one approves it and the suspension is lifted.
Disabling ends the sign-ins instead. Posts are deleted or marked sensitive with a warning to
their author. Bad input to every new endpoint answers 4xx and changes nothing.
"""

from __future__ import annotations

from typing import Any

from mastodon import Mastodon

from tests.integration.test_admin_accounts_api import audit, client, refusal, staff
from tests.kit import RunningNode, User


def account_id(node: RunningNode, user: User) -> str:
    return str(node.api(user, "GET", "/api/v1/accounts/verify_credentials").json()["id"])


def warnings_of(person: Mastodon) -> list[dict[str, Any]]:
    return [n for n in person.notifications() if n["type"] == "moderation_warning"]


def test_a_suspension_is_explained_appealed_and_lifted_by_another_moderator(
    node: RunningNode,
) -> None:
    first = staff(node, "modone", "moderator")
    second = staff(node, "modtwo", "moderator")
    victim = node.create_user("victim")
    person = client(node, victim)
    victim_id = account_id(node, victim)
    reason = "You shared the unpublished Q3 figures"

    client(node, first).admin_account_moderate(victim_id, action="suspend", text=reason)

    # The person still signs in and reads why …
    assert person.account_verify_credentials()["username"] == victim.name
    fresh = node.password_token(victim.email, victim.password, "read write")
    assert (
        node.api(User(victim.name, "", "", fresh), "GET", "/api/v1/notifications").status_code
        == 200
    )
    notes = warnings_of(person)
    assert len(notes) == 1
    warning = notes[0]["moderation_warning"]
    assert (warning["action"], warning["text"]) == ("suspend", reason)
    grouped = node.api(victim, "GET", "/api/v2/notifications").json()
    assert [g["moderation_warning"]["text"] for g in grouped["notification_groups"]] == [reason]
    # … and nothing else.
    status, error = refusal(lambda: person.status_post("still here"))
    assert (status, error) == (403, f"This account is suspended: {reason}")
    home = node.api(victim, "GET", "/api/v1/timelines/home")
    assert (home.status_code, home.json()) == (
        403,
        {"error": f"This account is suspended: {reason}"},
    )

    appeal = node.api(
        victim,
        "POST",
        "/api/v1/flurfunk/appeals",
        data={"warning_id": warning["id"], "text": "They were public already"},
    )
    assert appeal.status_code == 200, appeal.text
    appeal_id = appeal.json()["id"]
    assert appeal.json()["state"] == "pending"
    mine = node.api(victim, "GET", "/api/v1/flurfunk/appeals").json()
    assert [a["id"] for a in mine] == [appeal_id]
    again = node.api(
        victim,
        "POST",
        "/api/v1/flurfunk/appeals",
        data={"warning_id": warning["id"], "text": "twice"},
    )
    assert again.status_code == 422

    pending = node.api(second, "GET", "/api/v1/flurfunk/appeals", params={"all": "true"}).json()
    assert appeal_id in [a["id"] for a in pending]
    own = node.api(first, "POST", f"/api/v1/flurfunk/appeals/{appeal_id}/approve")
    assert own.status_code == 403
    assert "another moderator" in own.json()["error"]
    approved = node.api(second, "POST", f"/api/v1/flurfunk/appeals/{appeal_id}/approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == "approved"

    assert person.status_post("back again")["content"]  # lifted: the same token works
    assert client(node, second).admin_account(victim_id)["suspended"] is False
    log = [(a, t) for _, a, t in audit(node)]
    assert ("user.suspend", victim.name) in log
    assert ("appeal.approve", victim.name) in log
    decided = node.api(second, "POST", f"/api/v1/flurfunk/appeals/{appeal_id}/reject")
    assert decided.status_code == 422  # decided once


def test_silencing_and_disabling_and_a_rejected_appeal_changes_nothing(
    node: RunningNode,
) -> None:
    first = staff(node, "modone", "moderator")
    second = staff(node, "modtwo", "moderator")
    victim = node.create_user("victim")
    victim_id = account_id(node, victim)
    loud = client(node, victim).status_post("LOUD NEWS", visibility="public")
    client(node, first).admin_account_moderate(victim_id, action="silence", text="Too loud")
    assert client(node, second).admin_account(victim_id)["silenced"] is True
    # Out of the public timeline for others; its author still sees it there.
    public = [s["id"] for s in client(node, second).timeline_public(limit=40)]
    assert loud["id"] not in public
    assert loud["id"] in [s["id"] for s in client(node, victim).timeline_public(limit=40)]
    warning = warnings_of(client(node, victim))[0]["moderation_warning"]
    appealed = node.api(
        victim, "POST", "/api/v1/flurfunk/appeals", data={"warning_id": warning["id"], "text": "no"}
    ).json()
    rejected = node.api(second, "POST", f"/api/v1/flurfunk/appeals/{appealed['id']}/reject")
    assert rejected.json()["state"] == "rejected"
    assert client(node, second).admin_account(victim_id)["silenced"] is True

    client(node, first).admin_account_moderate(victim_id, action="disable", text="Left us")
    assert node.api(victim, "GET", "/api/v1/accounts/verify_credentials").status_code == 401
    assert client(node, second).admin_account(victim_id)["disabled"] is True


def test_posts_are_deleted_or_marked_sensitive_with_a_warning(node: RunningNode) -> None:
    mod = staff(node, "mod", "moderator")
    author = node.create_user("author")
    one = client(node, author).status_post("first")
    two = client(node, author).status_post("second")
    done = node.api(
        mod,
        "POST",
        "/api/v1/flurfunk/moderation/statuses",
        data={"type": "delete", "status_ids[]": [one["id"]], "text": "Confidential"},
    )
    assert done.status_code == 200, done.text
    assert node.api(author, "GET", f"/api/v1/statuses/{one['id']}").status_code == 404
    marked = node.api(
        mod,
        "POST",
        "/api/v1/flurfunk/moderation/statuses",
        data={"type": "sensitive", "status_ids[]": [two["id"]], "text": "Graphic"},
    )
    assert marked.status_code == 200, marked.text
    assert node.api(author, "GET", f"/api/v1/statuses/{two['id']}").json()["sensitive"] is True
    seen = {
        (n["moderation_warning"]["action"], n["moderation_warning"]["text"])
        for n in warnings_of(client(node, author))
    }
    assert seen == {("delete_statuses", "Confidential"), ("mark_statuses_as_sensitive", "Graphic")}


def test_hostile_moderation_requests_are_refused(node: RunningNode) -> None:
    mod = staff(node, "mod", "moderator")
    ann, bob = node.create_user("ann"), node.create_user("bob")
    bob_id = account_id(node, bob)
    action = f"/api/v1/admin/accounts/{bob_id}/action"
    for data, code in [
        ({"type": "explode"}, 422),
        ({"type": "suspend", "text": "x" * 5001}, 422),
        ({"type": "suspend", "report_id": "123"}, 422),
        ({"type": "suspend", "report_id": "abc"}, 404),
    ]:
        answer = node.api(mod, "POST", action, data=data)
        assert answer.status_code == code, (data, answer.text)
    assert node.api(ann, "POST", action, data={"type": "suspend"}).status_code == 403
    assert node.api(bob, "GET", "/api/v1/accounts/verify_credentials").status_code == 200

    client(node, mod).admin_account_moderate(bob_id, action="sensitive", text="why")
    warning = warnings_of(client(node, bob))[0]["moderation_warning"]
    appeals = "/api/v1/flurfunk/appeals"
    for who, data, code in [
        (bob, {}, 422),
        (bob, {"warning_id": warning["id"]}, 422),  # no text
        (bob, {"warning_id": warning["id"], "text": "x" * 2001}, 422),
        (bob, {"warning_id": "999", "text": "hm"}, 404),
        (bob, {"warning_id": "nope", "text": "hm"}, 404),
        (ann, {"warning_id": warning["id"], "text": "not mine"}, 404),
    ]:
        answer = node.api(who, "POST", appeals, data=data)
        assert answer.status_code == code, (data, answer.text)
    assert node.api(bob, "GET", appeals).json() == []
    assert node.api(ann, "GET", f"/api/v1/flurfunk/warnings/{warning['id']}").status_code == 404
    assert node.api(ann, "GET", appeals, params={"all": "true"}).status_code == 403
    for path, who, code in [
        (f"{appeals}/123/approve", mod, 404),
        (f"{appeals}/x/reject", mod, 404),
        (f"{appeals}/123/approve", ann, 403),
    ]:
        assert node.api(who, "POST", path).status_code == code, path
    batch = "/api/v1/flurfunk/moderation/statuses"
    for who, data, code in [
        (mod, {"type": "burn", "status_ids[]": ["1"]}, 422),
        (mod, {"type": "delete"}, 422),
        (mod, {"type": "delete", "status_ids[]": ["123"]}, 404),
        (ann, {"type": "delete", "status_ids[]": ["123"]}, 403),
    ]:
        answer = node.api(who, "POST", batch, data=data)
        assert answer.status_code == code, (data, answer.text)
