"""Polls and scheduled statuses, as Mastodon clients use them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mastodon import Mastodon

from tests.kit import RunningNode, User


def client(node: RunningNode, user: User) -> Mastodon:
    return Mastodon(access_token=user.token, api_base_url=node.url)


def test_poll_votes_and_tallies(node: RunningNode, alice: User, bob: User) -> None:
    posted = client(node, alice).status_post(
        "Lunch?",
        poll=client(node, alice).make_poll(
            ["Pizza", "Salad", "Soup"], expires_in=3600, multiple=True
        ),
    )
    assert [o["title"] for o in posted["poll"]["options"]] == ["Pizza", "Salad", "Soup"]
    assert posted["poll"]["voted"] is False

    voted = client(node, bob).poll_vote(posted["poll"]["id"], [0, 2])
    assert voted["voted"] is True
    assert voted["own_votes"] == [0, 2]
    assert [o["votes_count"] for o in voted["options"]] == [1, 0, 1]
    assert voted["voters_count"] == 1

    again = node.api(
        bob, "POST", f"/api/v1/polls/{posted['poll']['id']}/votes", data={"choices[]": ["1"]}
    )
    assert again.status_code == 422  # one vote per person
    seen = client(node, alice).status(posted["id"])["poll"]
    assert seen["votes_count"] == 2
    assert seen["voted"] is False


def test_bad_polls_are_refused_and_nothing_is_posted(node: RunningNode, alice: User) -> None:
    before = node.api(alice, "GET", "/api/v1/accounts/verify_credentials").json()
    for poll in (
        {"options[]": ["only one"], "expires_in": "3600"},
        {"options[]": ["a", "b"], "expires_in": "10"},
        {"options[]": ["a", "a"], "expires_in": "3600"},
    ):
        data = {
            "status": "poll?",
            **{
                f"poll[{k[:-2]}][]" if k.endswith("[]") else f"poll[{k}]": v
                for k, v in poll.items()
            },
        }
        answer = node.api(alice, "POST", "/api/v1/statuses", data=data)
        assert answer.status_code == 422, answer.text
    after = node.api(alice, "GET", "/api/v1/accounts/verify_credentials").json()
    assert after["statuses_count"] == before["statuses_count"]


def test_single_choice_poll_refuses_two_choices(node: RunningNode, alice: User, bob: User) -> None:
    posted = client(node, alice).status_post(
        "One only", poll=client(node, alice).make_poll(["yes", "no"], expires_in=600)
    )
    answer = node.api(
        bob, "POST", f"/api/v1/polls/{posted['poll']['id']}/votes", data={"choices[]": ["0", "1"]}
    )
    assert answer.status_code == 422
    assert node.api(bob, "GET", "/api/v1/polls/99999").status_code == 404


def test_scheduled_status_is_listed_rescheduled_and_cancelled(
    node: RunningNode, alice: User
) -> None:
    m = client(node, alice)
    at = datetime.now(UTC) + timedelta(hours=2)
    planned = m.status_post("Later, colleagues", scheduled_at=at)
    assert planned["params"]["text"] == "Later, colleagues"
    assert [s["id"] for s in m.scheduled_statuses()] == [planned["id"]]
    assert m.account_statuses(m.me()["id"]) == []  # not posted yet

    moved = m.scheduled_status_update(planned["id"], at + timedelta(hours=1))
    assert abs(moved["scheduled_at"] - (at + timedelta(hours=1))) < timedelta(seconds=1)
    m.scheduled_status_delete(planned["id"])
    assert m.scheduled_statuses() == []


def test_scheduling_too_soon_is_refused(node: RunningNode, alice: User) -> None:
    soon = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    answer = node.api(
        alice, "POST", "/api/v1/statuses", data={"status": "now-ish", "scheduled_at": soon}
    )
    assert answer.status_code == 422
    assert "5 minutes" in answer.json()["error"]
