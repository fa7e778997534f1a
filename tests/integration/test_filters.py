"""Content filters: v2 and v1 through Mastodon.py and raw HTTP, their effect on timelines,
notifications and streams, and the `filters_changed` stream event."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from mastodon import Mastodon
from mastodon.errors import MastodonAPIError, MastodonNotFoundError
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from tests.conftest import BACKENDS
from tests.kit import RunningNode, User, postgres_available, require_service, running_node
from tests.stream_kit import client, follow, frames, listening_all, settled, ws_url

Json = dict[str, Any]
FORM = "application/x-www-form-urlencoded"


@pytest.fixture(scope="module", params=BACKENDS)
def node(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningNode]:
    """This module's own node per backend: its streams send a heartbeat every second, so
    that closed listeners notice at once."""
    if request.param == "postgres":
        available, reason = postgres_available()
        require_service("PostgreSQL", available, reason)
    tmp = tmp_path_factory.mktemp(f"filters-{request.param}")
    with running_node(tmp, request.param, FLURFUNK_STREAMING_HEARTBEAT="1") as running:
        yield running


def api(node: RunningNode, user: User) -> Mastodon:
    return Mastodon(access_token=user.token, api_base_url=node.url)


def call(node: RunningNode, user: User, method: str, path: str, **kwargs: Any) -> Any:
    """A request that must succeed; its JSON answer."""
    answer = node.api(user, method, path, **kwargs)
    assert answer.status_code == 200, answer.text
    return answer.json()


def send(
    node: RunningNode, user: User, method: str, path: str, body: bytes, content_type: str
) -> httpx.Response:
    """A request with a body exactly as given."""
    headers = {"Authorization": f"Bearer {user.token}", "Content-Type": content_type}
    return httpx.request(method, node.url + path, content=body, headers=headers, timeout=30)


def refused(answer: httpx.Response, status: int) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    assert isinstance(answer.json()["error"], str)


def post(node: RunningNode, user: User, text: str, **fields: Any) -> str:
    return str(call(node, user, "POST", "/api/v1/statuses", data={"status": text, **fields})["id"])


def new_filter(node: RunningNode, user: User, keyword: str, **fields: Any) -> Json:
    data: Json = {
        "title": f"no {keyword}",
        "context": ["home"],
        "keywords_attributes": [{"keyword": keyword, "whole_word": True}],
        **fields,
    }
    return dict(call(node, user, "POST", "/api/v2/filters", json=data))


def timeline(node: RunningNode, user: User, path: str, **params: Any) -> dict[str, Json]:
    """A timeline's statuses by id."""
    return {s["id"]: s for s in call(node, user, "GET", path, params=params)}


def home(node: RunningNode, user: User) -> dict[str, Json]:
    return timeline(node, user, "/api/v1/timelines/home")


def titles(results: list[Json]) -> list[str]:
    return [r["filter"]["title"] for r in results]


# --- managing filters ----------------------------------------------------------------------


def test_v2_filters_through_mastodon_py(node: RunningNode, alice: User) -> None:
    m = api(node, alice)
    created = m.create_filter_v2(
        "Lunch talk",
        ["home", "public"],
        "warn",
        expires_in=3600,
        keywords_attributes=[{"keyword": "lunch", "whole_word": True}],
    )
    assert created.title == "Lunch talk"
    assert created.context == ["home", "public"]
    assert created.filter_action == "warn"
    assert created.expires_at is not None
    assert [(k.keyword, k.whole_word) for k in created.keywords] == [("lunch", True)]
    assert created.statuses == []
    assert [f.id for f in m.filters_v2()] == [created.id]
    assert m.filter_v2(created.id).title == "Lunch talk"

    added = m.add_filter_keyword_v2(created.id, "canteen", whole_word=False)
    assert added.whole_word is False
    assert [k.keyword for k in m.filter_keywords_v2(created.id)] == ["lunch", "canteen"]
    lunch = created.keywords[0]
    changed = m.update_filter_v2(
        created.id,
        title="Food talk",
        context=["thread"],
        filter_action="hide",
        keywords_attributes=[{"id": lunch.id, "_destroy": True}, {"keyword": "menu"}],
    )
    assert changed.title == "Food talk"
    assert changed.context == ["thread"]
    assert changed.filter_action == "hide"
    assert sorted(k.keyword for k in changed.keywords) == ["canteen", "menu"]

    status = m.status_post("Today's menu is long")
    entry = m.add_filter_status_v2(created.id, status.id)
    assert str(entry.status_id) == str(status.id)
    assert [str(e.id) for e in m.filter_statuses_v2(created.id)] == [str(entry.id)]
    assert str(m.filter_status_v2(entry.id).status_id) == str(status.id)
    m.delete_filter_status_v2(entry.id)
    assert m.filter_statuses_v2(created.id) == []

    m.delete_filter_keyword_v2(added.id)
    assert [k.keyword for k in m.filter_keywords_v2(created.id)] == ["menu"]
    m.delete_filter_v2(created.id)
    assert m.filters_v2() == []
    with pytest.raises(MastodonNotFoundError):
        m.filter_v2(created.id)


def test_v2_filters_through_forms_and_query_strings(node: RunningNode, alice: User) -> None:
    # Rails' form encoding of a list of objects: a repeated field starts the next object.
    form = [
        ("title", "test"),
        ("context[]", "public"),
        ("context[]", "notifications"),
        ("keywords_attributes[][keyword]", "foo"),
        ("keywords_attributes[][whole_word]", "false"),
        ("keywords_attributes[][keyword]", "bar"),
        ("keywords_attributes[][whole_word]", "true"),
    ]
    answer = send(node, alice, "POST", "/api/v2/filters", urlencode(form).encode(), FORM)
    assert answer.status_code == 200, answer.text
    created = answer.json()
    assert created["context"] == ["public", "notifications"]
    assert created["expires_at"] is None
    assert created["filter_action"] == "warn"
    foo, bar = created["keywords"]
    assert (foo["keyword"], foo["whole_word"]) == ("foo", False)
    assert (bar["keyword"], bar["whole_word"]) == ("bar", True)

    # Mastodon's documented example: remove one keyword, rename another, all in the query.
    query = [
        ("keywords_attributes[][id]", foo["id"]),
        ("keywords_attributes[][_destroy]", "true"),
        ("keywords_attributes[][id]", bar["id"]),
        ("keywords_attributes[][keyword]", "baz"),
    ]
    path = f"/api/v2/filters/{created['id']}"
    changed = call(node, alice, "PUT", f"{path}?{urlencode(query)}")  # in this order
    assert changed["keywords"] == [{"id": bar["id"], "keyword": "baz", "whole_word": True}]

    keyword_path = f"/api/v2/filters/keywords/{bar['id']}"
    assert call(node, alice, "GET", keyword_path)["keyword"] == "baz"
    renamed = call(node, alice, "PUT", keyword_path, data={"keyword": "qux", "whole_word": "0"})
    assert renamed == {"id": bar["id"], "keyword": "qux", "whole_word": False}
    added = call(node, alice, "POST", f"{path}/keywords", params={"keyword": "quux"})
    assert added["whole_word"] is True
    assert call(node, alice, "DELETE", keyword_path) == {}
    assert [k["keyword"] for k in call(node, alice, "GET", f"{path}/keywords")] == ["quux"]
    assert call(node, alice, "DELETE", path) == {}
    refused(node.api(alice, "GET", path), 404)


def test_bad_input_is_refused_and_changes_nothing(node: RunningNode) -> None:
    user = node.create_user("careful")
    kept = new_filter(node, user, "keep")
    path = f"/api/v2/filters/{kept['id']}"
    bad_creates: list[Json] = [
        {"context": ["home"]},  # no title
        {"title": "   ", "context": ["home"]},
        {"title": "x"},  # no context
        {"title": "x", "context": ["home", "everywhere"]},
        {"title": "x", "context": ["home"], "filter_action": "explode"},
        {"title": "x", "context": ["home"], "expires_in": -5},
        {"title": "x", "context": ["home"], "expires_in": "soon"},
        {"title": "x" * 300, "context": ["home"]},
        {"title": "x", "context": ["home"], "keywords_attributes": [{"keyword": ""}]},
        {"title": "x", "context": ["home"], "keywords_attributes": [{"keyword": "y" * 300}]},
        {"title": "x", "context": ["home"], "keywords_attributes": "lunch"},
        {"title": "x", "context": {"a": 1}},
    ]
    for body in bad_creates:
        refused(node.api(user, "POST", "/api/v2/filters", json=body), 422)
    refused(send(node, user, "POST", "/api/v2/filters", b"{not json", "application/json"), 400)
    # A keyword id of another filter: 404, and the title change in the same request is undone.
    other = new_filter(node, user, "other")
    foreign_keyword = {"id": other["keywords"][0]["id"], "keyword": "stolen"}
    answer = node.api(
        user, "PUT", path, json={"title": "renamed", "keywords_attributes": [foreign_keyword]}
    )
    refused(answer, 404)
    refused(node.api(user, "PUT", path, json={"context": []}), 422)
    refused(node.api(user, "POST", f"{path}/keywords", data={"keyword": " "}), 422)
    refused(node.api(user, "POST", f"{path}/statuses", data={}), 422)
    refused(node.api(user, "POST", f"{path}/statuses", data={"status_id": "12345"}), 404)
    refused(node.api(user, "GET", "/api/v2/filters/not-a-number"), 404)
    refused(node.api(user, "GET", "/api/v2/filters/keywords/99999"), 404)
    refused(node.api(user, "DELETE", "/api/v2/filters/statuses/99999"), 404)
    refused(node.api(user, "POST", "/api/v1/filters", data={"context[]": "home"}), 422)
    refused(node.api(user, "POST", "/api/v1/filters", data={"phrase": "x"}), 422)

    assert call(node, user, "GET", path) == kept
    assert [f["title"] for f in call(node, user, "GET", "/api/v2/filters")] == [
        "no keep",
        "no other",
    ]


def test_scopes_are_enforced(node: RunningNode) -> None:
    reader = node.create_user("reader", scopes="read:filters")
    assert call(node, reader, "GET", "/api/v2/filters") == []
    refused(
        node.api(reader, "POST", "/api/v2/filters", json={"title": "x", "context": ["home"]}), 403
    )
    refused(
        node.api(reader, "POST", "/api/v1/filters", data={"phrase": "x", "context[]": "home"}), 403
    )
    other = node.create_user("statuses", scopes="read:statuses")
    refused(node.api(other, "GET", "/api/v2/filters"), 403)
    refused(node.api(None, "GET", "/api/v1/filters"), 401)


def test_v1_filters_are_single_keywords_of_v2_filters(node: RunningNode) -> None:
    user = node.create_user("legacy")
    m = api(node, user)
    created = m.filter_create("standup", ["home", "notifications"], irreversible=True)
    assert created.phrase == "standup"
    assert created.irreversible is True
    assert created.whole_word is True
    assert [f.phrase for f in m.filters()] == ["standup"]
    assert m.filter(created.id).context == ["home", "notifications"]
    (v2,) = m.filters_v2()
    assert (v2.title, v2.filter_action) == ("standup", "hide")
    assert [str(k.id) for k in v2.keywords] == [str(created.id)]

    changed = m.filter_update(created.id, phrase="retro", context=["public"], irreversible=False)
    assert (changed.phrase, changed.context, changed.irreversible) == ("retro", ["public"], False)
    assert m.filter_v2(v2.id).title == "retro"

    # With a second keyword, the filter's own settings belong to v2.
    m.add_filter_keyword_v2(v2.id, "planning")
    with pytest.raises(MastodonAPIError):
        m.filter_update(created.id, context=["home"])
    assert m.filter_update(created.id, phrase="review").phrase == "review"
    assert sorted(f.phrase for f in m.filters()) == ["planning", "review"]

    for legacy in m.filters():
        m.filter_delete(legacy.id)
    assert m.filters() == []
    assert m.filters_v2() == []  # the emptied filter went with its last keyword


def test_another_users_filters_are_invisible(node: RunningNode, alice: User, bob: User) -> None:
    mine = new_filter(node, alice, "private")
    keyword_id = mine["keywords"][0]["id"]
    status_id = post(node, alice, "a post to filter")
    entry = call(
        node, alice, "POST", f"/api/v2/filters/{mine['id']}/statuses", data={"status_id": status_id}
    )
    for method, path in [
        ("GET", f"/api/v2/filters/{mine['id']}"),
        ("PUT", f"/api/v2/filters/{mine['id']}"),
        ("DELETE", f"/api/v2/filters/{mine['id']}"),
        ("GET", f"/api/v2/filters/{mine['id']}/keywords"),
        ("POST", f"/api/v2/filters/{mine['id']}/keywords"),
        ("GET", f"/api/v2/filters/{mine['id']}/statuses"),
        ("GET", f"/api/v2/filters/keywords/{keyword_id}"),
        ("PUT", f"/api/v2/filters/keywords/{keyword_id}"),
        ("DELETE", f"/api/v2/filters/keywords/{keyword_id}"),
        ("GET", f"/api/v2/filters/statuses/{entry['id']}"),
        ("DELETE", f"/api/v2/filters/statuses/{entry['id']}"),
        ("GET", f"/api/v1/filters/{keyword_id}"),
        ("PUT", f"/api/v1/filters/{keyword_id}"),
        ("DELETE", f"/api/v1/filters/{keyword_id}"),
    ]:
        refused(node.api(bob, method, path, data={"title": "mine now", "keyword": "x"}), 404)
    assert call(node, bob, "GET", "/api/v2/filters") == []
    assert call(node, bob, "GET", "/api/v1/filters") == []
    assert call(node, alice, "GET", f"/api/v2/filters/{mine['id']}") == {
        **mine,
        "statuses": [entry],
    }


# --- filters at work -----------------------------------------------------------------------


def test_warn_filter_marks_matching_statuses_in_its_contexts(node: RunningNode) -> None:
    author, reader, other = (node.create_user(n) for n in ("author", "reader", "other"))
    follow(node, reader, author)
    warn = new_filter(node, reader, "lunch")
    lunch = post(node, author, "<b>Lunch</b> at noon, who joins?")
    lunchbox = post(node, author, "Forgot my lunchbox")
    meeting = post(node, author, "Meeting at three")
    hidden_word = post(node, author, "Details inside", spoiler_text="about lunch")
    in_poll = post(
        node,
        author,
        "Where to?",
        **{"poll[options][]": ["Canteen", "Lunch bar"], "poll[expires_in]": "600"},
    )
    boosted = post(node, other, "lunch is served")
    boost = str(call(node, author, "POST", f"/api/v1/statuses/{boosted}/reblog")["id"])

    shown = home(node, reader)
    for marked in (lunch, hidden_word, in_poll):
        (result,) = shown[marked]["filtered"]
        assert result["filter"]["id"] == warn["id"]
        assert result["filter"]["filter_action"] == "warn"
        assert result["keyword_matches"] == ["lunch"]
        assert result["status_matches"] is None
    assert titles(shown[boost]["filtered"]) == ["no lunch"]
    assert titles(shown[boost]["reblog"]["filtered"]) == ["no lunch"]
    assert shown[lunchbox]["filtered"] == []  # whole words only
    assert shown[meeting]["filtered"] == []

    # Only in the filter's contexts: the public timeline and the author's profile are clean.
    assert (
        timeline(node, reader, "/api/v1/timelines/public", local="true", limit=40)[lunch][
            "filtered"
        ]
        == []
    )
    profile = timeline(node, reader, f"/api/v1/accounts/{author.id}/statuses", limit=40)
    assert profile[lunch]["filtered"] == []

    # A keyword that is not a whole word matches inside words; a filtered status by id.
    call(
        node,
        reader,
        "PUT",
        f"/api/v2/filters/{warn['id']}",
        json={
            "context": ["home", "account"],
            "keywords_attributes": [{"id": warn["keywords"][0]["id"], "whole_word": False}],
        },
    )
    call(
        node, reader, "POST", f"/api/v2/filters/{warn['id']}/statuses", data={"status_id": meeting}
    )
    profile = timeline(node, reader, f"/api/v1/accounts/{author.id}/statuses", limit=40)
    assert profile[lunchbox]["filtered"][0]["keyword_matches"] == ["lunch"]
    (by_id,) = profile[meeting]["filtered"]
    assert (by_id["keyword_matches"], by_id["status_matches"]) == (None, [meeting])


def test_hide_filter_removes_statuses_and_notifications(node: RunningNode) -> None:
    author, reader = node.create_user("author"), node.create_user("reader")
    follow(node, reader, author)
    new_filter(
        node, reader, "secret", filter_action="hide", context=["home", "notifications", "thread"]
    )
    secret = post(node, author, f"The secret plan, @{reader.name}")
    plain = post(node, author, f"An open plan, @{reader.name}")
    reply = post(node, author, "Another secret", in_reply_to_id=plain)

    shown = home(node, reader)
    assert plain in shown
    assert secret not in shown
    mentions = call(node, reader, "GET", "/api/v1/notifications")
    assert [n["status"]["id"] for n in mentions] == [plain]
    context = call(node, reader, "GET", f"/api/v1/statuses/{plain}/context")
    assert context["descendants"] == []
    # Nobody else is affected: the author sees everything.
    assert {secret, plain, reply} <= set(home(node, author))
    assert (
        call(node, author, "GET", f"/api/v1/statuses/{plain}/context")["descendants"][0]["id"]
        == reply
    )


def test_expired_filter_does_nothing(node: RunningNode) -> None:
    author, reader = node.create_user("author"), node.create_user("reader")
    follow(node, reader, author)
    expired = new_filter(node, reader, "lunch", filter_action="hide", expires_in=0)
    assert expired["expires_at"] is not None
    lunch = post(node, author, "lunch at noon")
    assert home(node, reader)[lunch]["filtered"] == []


def test_one_users_filters_do_not_touch_anothers_timeline(node: RunningNode) -> None:
    author, filtering, unaffected = (node.create_user(n) for n in ("author", "filtering", "free"))
    follow(node, filtering, author)
    follow(node, unaffected, author)
    new_filter(node, filtering, "lunch", filter_action="hide")
    lunch = post(node, author, "lunch at noon")
    assert lunch not in home(node, filtering)
    assert home(node, unaffected)[lunch]["filtered"] == []


# --- streams -------------------------------------------------------------------------------


def test_filters_changed_reaches_only_the_owners_user_stream(node: RunningNode) -> None:
    owner, friend = node.create_user("owner"), node.create_user("friend")
    follow(node, friend, owner)
    with listening_all(
        {
            "owner": lambda r: client(node, owner).stream_user(r, run_async=True),
            "friend": lambda r: client(node, friend).stream_user(r, run_async=True),
        }
    ) as heard:
        created = new_filter(node, owner, "lunch")
        heard["owner"].wait_for("filters_changed", lambda: len(changes(heard["owner"])) == 1)
        keyword = call(
            node,
            owner,
            "POST",
            f"/api/v2/filters/{created['id']}/keywords",
            data={"keyword": "menu"},
        )
        call(node, owner, "DELETE", f"/api/v2/filters/keywords/{keyword['id']}")
        call(node, owner, "DELETE", f"/api/v2/filters/{created['id']}")
        heard["owner"].wait_for("three more", lambda: len(changes(heard["owner"])) == 4)
        assert changes(heard["owner"]) == [None] * 4  # no payload, as Mastodon sends it

        # Events arrive in order: once the friend has this post, nothing else is coming.
        marker = post(node, owner, "marker")
        heard["friend"].wait_for_id("update", marker)
        assert changes(heard["friend"]) == []


def changes(recorder: Any) -> list[Any]:
    return [data for name, data in list(recorder.events) if name == "filters_changed"]


def test_filters_changed_over_websocket(node: RunningNode, alice: User) -> None:
    with connect(ws_url(node, "?stream=user"), subprotocols=[Subprotocol(alice.token)]) as ws:
        settled(ws)
        new_filter(node, alice, "websocket")
        frame = frames(ws, lambda f: f.get("event") == "filters_changed")[-1]
        assert frame == {"stream": ["user"], "event": "filters_changed"}


def test_streamed_statuses_carry_the_listeners_filters(node: RunningNode) -> None:
    author, reader = node.create_user("author"), node.create_user("reader")
    follow(node, reader, author)
    new_filter(node, reader, "lunch")
    new_filter(node, reader, "secret", filter_action="hide")
    with listening_all(
        {
            "reader": lambda r: client(node, reader).stream_user(r, run_async=True),
            "author": lambda r: client(node, author).stream_user(r, run_async=True),
        }
    ) as heard:
        lunch = post(node, author, "lunch at noon")
        secret = post(node, author, "a secret")
        marker = post(node, author, "marker")
        heard["reader"].wait_for_id("update", marker)
        heard["author"].wait_for_id("update", marker)
        updates = {str(d["id"]): d for n, d in list(heard["reader"].events) if n == "update"}
        assert secret not in updates
        assert titles(updates[lunch]["filtered"]) == ["no lunch"]
        assert updates[marker]["filtered"] == []
        own = {str(d["id"]): d for n, d in list(heard["author"].events) if n == "update"}
        assert own[lunch]["filtered"] == []
        assert secret in own
