"""Direct conversations as apps show them: one entry per thread of direct messages, with the
other people in it, the newest message, and whether something new arrived since it was read."""

from __future__ import annotations

from typing import Any

from mastodon import Mastodon

from tests.kit import RunningNode, User


def dm(node: RunningNode, user: User, text: str, **fields: str) -> dict[str, Any]:
    answer = node.api(
        user, "POST", "/api/v1/statuses", data={"status": text, "visibility": "direct", **fields}
    )
    assert answer.status_code == 200, answer.text
    status: dict[str, Any] = answer.json()
    return status


def conversations(node: RunningNode, user: User, **params: str) -> list[dict[str, Any]]:
    answer = node.api(user, "GET", "/api/v1/conversations", params=params)
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()
    return found


def test_a_thread_of_direct_messages_is_one_conversation(node: RunningNode) -> None:
    anna, bert, carl = (node.create_user(n) for n in ("convanna", "convbert", "convcarl"))
    first = dm(node, anna, f"@{bert.name} @{carl.name} lunch at noon?")
    reply = dm(node, bert, f"@{anna.name} @{carl.name} yes!", in_reply_to_id=first["id"])

    (conversation,) = conversations(node, anna)
    assert conversation["id"] == first["id"]  # the thread's root, as the stream event says
    assert conversation["last_status"]["id"] == reply["id"]
    assert conversation["unread"] is True  # bert answered after anna wrote
    assert sorted(a["id"] for a in conversation["accounts"]) == sorted([bert.id, carl.id])

    (for_bert,) = conversations(node, bert)
    assert for_bert["id"] == first["id"]
    assert for_bert["unread"] is False  # the newest message is his own...
    assert sorted(a["id"] for a in for_bert["accounts"]) == sorted([anna.id, carl.id])
    (for_carl,) = conversations(node, carl)
    assert for_carl["unread"] is True  # ...but carl has read nothing yet

    # Someone who is not in it sees nothing of it.
    assert conversations(node, node.create_user("convdora")) == []


def test_reading_and_deleting_a_conversation(node: RunningNode) -> None:
    anna, bert = node.create_user("readanna"), node.create_user("readbert")
    first = dm(node, bert, f"@{anna.name} the contract draft is ready")
    (conversation,) = conversations(node, anna)
    assert conversation["unread"] is True

    marked = node.api(anna, "POST", f"/api/v1/conversations/{conversation['id']}/read")
    assert marked.status_code == 200
    assert marked.json()["unread"] is False
    assert conversations(node, anna)[0]["unread"] is False
    assert conversations(node, bert)[0]["unread"] is False  # bert's own marks are his

    deleted = node.api(anna, "DELETE", f"/api/v1/conversations/{conversation['id']}")
    assert (deleted.status_code, deleted.json()) == (200, {})
    assert conversations(node, anna) == []
    assert len(conversations(node, bert)) == 1  # deleting is for oneself only
    status = node.api(anna, "GET", f"/api/v1/statuses/{first['id']}")
    assert status.status_code == 200  # the messages themselves stay

    # A new message brings the conversation back, unread.
    dm(node, bert, f"@{anna.name} did you see it?", in_reply_to_id=first["id"])
    (back,) = conversations(node, anna)
    assert back["id"] == conversation["id"]
    assert back["unread"] is True


def test_conversations_of_others_and_bad_ids_are_unknown(node: RunningNode) -> None:
    anna, bert = node.create_user("badanna"), node.create_user("badbert")
    mine = dm(node, anna, f"@{bert.name} hi")
    stranger = node.create_user("badstranger")
    for user, path in (
        (stranger, f"/api/v1/conversations/{mine['id']}/read"),
        (anna, "/api/v1/conversations/123/read"),
        (anna, "/api/v1/conversations/not-a-number/read"),
    ):
        answer = node.api(user, "POST", path)
        assert answer.status_code == 404, (path, answer.text)
    assert node.api(stranger, "DELETE", f"/api/v1/conversations/{mine['id']}").status_code == 404
    assert conversations(node, anna)[0]["unread"] is False
    # A public post mentioning someone is no conversation.
    node.api(anna, "POST", "/api/v1/statuses", data={"status": f"@{bert.name} in public"})
    assert len(conversations(node, bert)) == 1


def test_conversations_page_newest_first_with_links(node: RunningNode) -> None:
    anna = node.create_user("pageanna")
    partners = [node.create_user(f"pagep{n}") for n in range(3)]
    roots = [dm(node, p, f"@{anna.name} message {n}") for n, p in enumerate(partners)]
    first_page = node.api(anna, "GET", "/api/v1/conversations", params={"limit": 2})
    assert [c["id"] for c in first_page.json()] == [roots[2]["id"], roots[1]["id"]]
    next_url = first_page.links["next"]["url"]
    rest = node.api(anna, "GET", next_url.removeprefix(node.url))
    assert [c["id"] for c in rest.json()] == [roots[0]["id"]]


def test_mastodon_py_reads_and_marks_conversations(node: RunningNode) -> None:
    anna, bert = node.create_user("mpyanna"), node.create_user("mpybert")
    dm(node, bert, f"@{anna.name} hello from bert")
    api = Mastodon(access_token=anna.token, api_base_url=node.url)
    (conversation,) = api.conversations()
    assert conversation.unread is True
    assert conversation.accounts[0].acct == bert.name
    assert api.conversations_read(conversation.id).unread is False
