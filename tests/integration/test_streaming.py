"""Streaming: Mastodon.py's SSE listeners and a WebSocket client against a running node.

Absence is asserted with a marker: events reach a listener in the order they were raised, so
once a listener has the marker posted last, anything it was going to get has arrived.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from tests.conftest import BACKENDS
from tests.kit import RunningNode, User, postgres_available, require_service, running_node
from tests.stream_kit import (
    client,
    follow,
    frames,
    is_update_of,
    listening,
    listening_all,
    post,
    settled,
    socket_status,
    ws_url,
)


@pytest.fixture(scope="module", params=BACKENDS)
def node(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningNode]:
    """This module's own node per backend: its streams send a heartbeat every second."""
    if request.param == "postgres":
        available, reason = postgres_available()
        require_service("PostgreSQL", available, reason)
    tmp = tmp_path_factory.mktemp(f"streaming-{request.param}")
    with running_node(tmp, request.param, FLURFUNK_STREAMING_HEARTBEAT="1") as running:
        yield running


# --- the basics -------------------------------------------------------------------------------


def test_health_answers_ok(node: RunningNode, alice: User) -> None:
    answer = httpx.get(node.url + "/api/v1/streaming/health", timeout=10)
    assert answer.status_code == 200
    assert answer.text == "OK"
    assert client(node, alice).stream_healthy() is True


def test_user_stream_brings_posts_edits_deletes_and_notifications(node: RunningNode) -> None:
    author, reader, fan = (node.create_user(n) for n in ("author", "reader", "fan"))
    follow(node, reader, author)
    follow(node, fan, reader)
    with listening_all(
        {
            "home": lambda r: client(node, reader).stream_user(r, run_async=True),
            "mine": lambda r: client(node, author).stream_user(r, run_async=True),
            "fans": lambda r: client(node, fan).stream_user(r, run_async=True),
        }
    ) as heard:
        home, mine, fans_home = heard["home"], heard["mine"], heard["fans"]
        status_id = post(node, author, f"hello @{reader.name}")
        home.wait_for_id("update", status_id)
        mention = next(d for n, d in home.events if n == "notification")
        assert mention["type"] == "mention"
        assert str(mention["status"]["id"]) == status_id
        assert "hello" in next(d for n, d in home.events if n == "update")["content"]

        node.api(author, "PUT", f"/api/v1/statuses/{status_id}", data={"status": "edited"})
        home.wait_for_id("status.update", status_id)
        edited = next(d for n, d in home.events if n == "status.update")
        assert "edited" in edited["content"]

        node.api(reader, "POST", f"/api/v1/statuses/{status_id}/favourite").raise_for_status()
        node.api(reader, "POST", f"/api/v1/statuses/{status_id}/reblog").raise_for_status()
        mine.wait_for(
            "favourite and reblog notifications",
            lambda: (
                {"favourite", "reblog"}
                <= {d["type"] for n, d in mine.events if n == "notification"}
            ),
        )
        fans_home.wait_for("the boost", lambda: status_id in fans_home.status_ids())

        node.api(author, "DELETE", f"/api/v1/statuses/{status_id}").raise_for_status()
        home.wait_for_id("delete", status_id)  # a bare id, as Mastodon sends it
        fans_home.wait_for("the boost's removal", lambda: bool(fans_home.ids("delete")))

        follower = node.create_user("newfollower")
        follow(node, follower, author)
        mine.wait_for(
            "the follow notification",
            lambda: any(
                d["type"] == "follow" and d["account"]["id"] == follower.id
                for n, d in mine.events
                if n == "notification"
            ),
        )


def test_public_and_hashtag_streams(node: RunningNode, alice: User, bob: User) -> None:
    tag = f"stream{alice.name}"
    with listening_all(
        {
            "public": lambda r: client(node, bob).stream_public(r, run_async=True),
            "local": lambda r: client(node, None).stream_public(r, run_async=True, local=True),
            "tagged": lambda r: client(node, bob).stream_hashtag(tag, r, run_async=True),
            "tagged local": lambda r: client(node, None).stream_hashtag(
                tag, r, run_async=True, local=True
            ),
        }
    ) as heard:
        public, local, tagged, tagged_local = heard.values()
        quiet = post(node, alice, "not for the public timeline", visibility="unlisted")
        untagged = post(node, alice, "public, no tag")
        with_tag = post(node, alice, f"about #{tag}")
        for listener in (public, local, tagged, tagged_local):
            listener.wait_for_id("update", with_tag)
            assert quiet not in listener.status_ids()
        assert untagged in public.ids("update")
        assert untagged in local.ids("update")
        assert untagged not in tagged.ids("update")


def test_a_token_without_notification_scope_gets_posts_but_no_notifications(
    node: RunningNode, alice: User
) -> None:
    reader = node.create_user("narrow", scopes="read:statuses write")
    follow(node, reader, alice)
    with listening(lambda r: client(node, reader).stream_user(r, run_async=True)) as home:
        status_id = post(node, alice, f"hi @{reader.name}")
        home.wait_for_id("update", status_id)
        marker = post(node, reader, "my own marker")
        home.wait_for_id("update", marker)
        assert home.ids("notification") == []
    answer = httpx.get(
        node.url + "/api/v1/streaming/user/notification",
        headers={"Authorization": f"Bearer {reader.token}"},
        timeout=10,
    )
    assert answer.status_code == 403


def test_stream_errors_are_json_with_mastodon_statuses(
    node: RunningNode, alice: User, bob: User
) -> None:
    def get(path: str, user: User | None = None, token: str | None = None) -> httpx.Response:
        bearer = token or (user.token if user else None)
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        return httpx.get(node.url + path, headers=headers, timeout=10)

    assert get("/api/v1/streaming/user").status_code == 401
    assert get("/api/v1/streaming/user", token="not-a-token").status_code == 401
    missing_tag = get("/api/v1/streaming/hashtag", alice)
    assert missing_tag.status_code == 400
    assert "error" in missing_tag.json()
    assert get("/api/v1/streaming?stream=nonsense", alice).status_code == 400
    assert get("/api/v1/streaming/list", alice).status_code == 400
    bobs = node.api(bob, "POST", "/api/v1/lists", data={"title": "mine"}).json()
    assert get(f"/api/v1/streaming/list?list={bobs['id']}", alice).status_code == 404


def test_list_stream_follows_the_list_members(node: RunningNode, alice: User, bob: User) -> None:
    owner = node.create_user("owner")
    follow(node, owner, alice)
    follow(node, owner, bob)
    the_list = node.api(owner, "POST", "/api/v1/lists", data={"title": "team"}).json()
    node.api(
        owner, "POST", f"/api/v1/lists/{the_list['id']}/accounts", data={"account_ids[]": alice.id}
    ).raise_for_status()
    with listening(
        lambda r: client(node, owner).stream_list(the_list["id"], r, run_async=True)
    ) as listed:
        outside = post(node, bob, "bob is not on the list")
        inside = post(node, alice, "alice is")
        listed.wait_for_id("update", inside)
        assert outside not in listed.status_ids()


# --- WebSocket --------------------------------------------------------------------------------


def test_websocket_token_as_subprotocol_is_echoed_and_events_arrive(
    node: RunningNode, alice: User, bob: User
) -> None:
    follow(node, bob, alice)
    with connect(ws_url(node, "?stream=user"), subprotocols=[Subprotocol(bob.token)]) as ws:
        assert ws.subprotocol == bob.token  # browsers drop the socket unless it is echoed
        status_id = post(node, alice, "over the socket")
        frame = frames(ws, is_update_of(status_id))[-1]
        assert frame["stream"] == ["user"]
        assert isinstance(frame["payload"], str)  # JSON inside a string, as Mastodon sends it
        assert json.loads(frame["payload"])["content"].count("over the socket") == 1

        node.api(alice, "DELETE", f"/api/v1/statuses/{status_id}").raise_for_status()
        deleted = frames(ws, lambda f: f.get("event") == "delete")[-1]
        assert deleted["payload"] == status_id


def test_websocket_subscribe_unsubscribe_and_refused_subscriptions(
    node: RunningNode, alice: User, bob: User
) -> None:
    tag = f"ws{alice.name}"
    headers = {"Authorization": f"Bearer {bob.token}"}
    with connect(ws_url(node), additional_headers=headers) as ws:
        ws.send(json.dumps({"type": "subscribe", "stream": "hashtag", "tag": tag}))
        ws.send(json.dumps({"type": "subscribe", "stream": "nonsense"}))
        refused = frames(ws, lambda f: "error" in f)[-1]
        assert refused["status"] == 400
        ws.send(json.dumps({"type": "subscribe", "stream": "hashtag"}))
        assert frames(ws, lambda f: "error" in f)[-1]["status"] == 400
        ws.send("this is not JSON")
        assert frames(ws, lambda f: "error" in f)[-1]["status"] == 400

        # the socket stays open and keeps its good subscription
        tagged = post(node, alice, f"#{tag} first")
        frame = frames(ws, is_update_of(tagged))[-1]
        assert frame["stream"] == ["hashtag", tag]

        ws.send(json.dumps({"type": "unsubscribe", "stream": "hashtag", "tag": tag}))
        ws.send(json.dumps({"type": "subscribe", "stream": "user"}))
        settled(ws)
        untagged_after = post(node, alice, f"#{tag} second")
        marker = post(node, bob, "bob's own marker")
        seen = frames(ws, is_update_of(marker))
        assert all(json.loads(f["payload"])["id"] != untagged_after for f in seen)


def test_websocket_authentication(node: RunningNode, alice: User) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(ws_url(node, "?stream=user&access_token=not-a-token")).close()
    assert refused.value.response.status_code == 401

    with connect(ws_url(node, "?stream=public")) as anonymous:
        anonymous.send(json.dumps({"type": "subscribe", "stream": "user"}))
        assert frames(anonymous, lambda f: "error" in f)[-1]["status"] == 401
        status_id = post(node, alice, "for everyone")
        assert frames(anonymous, is_update_of(status_id))[-1]["stream"] == ["public"]

    with connect(ws_url(node, f"?stream=user&access_token={alice.token}")) as by_query:
        status_id = post(node, alice, "token in the query")
        frames(by_query, is_update_of(status_id))


def test_streams_of_a_revoked_token_end_at_once(node: RunningNode, alice: User) -> None:
    """An app's token revoked (signed out, or its refresh token used) ends the SSE and
    WebSocket streams opened with it, instead of letting them run until they reconnect."""
    app = httpx.post(
        node.url + "/api/v1/apps",
        json={"client_name": "Revoked", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob"},
    ).json()
    credentials = {"client_id": app["client_id"], "client_secret": app["client_secret"]}
    grant = httpx.post(
        node.url + "/oauth/token",
        data={
            "grant_type": "password",
            "username": alice.email,
            "password": alice.password,
            "scope": "read",
            **credentials,
        },
    ).json()
    token = grant["access_token"]
    sse_url = node.url + "/api/v1/streaming/user"
    with (
        httpx.stream("GET", sse_url, params={"access_token": token}, timeout=30) as sse,
        connect(ws_url(node, f"?stream=user&access_token={token}")) as ws,
    ):
        lines = sse.iter_lines()
        assert next(lines).startswith(":")  # the stream is open
        settled(ws)
        revoked = httpx.post(node.url + "/oauth/revoke", data={"token": token, **credentials})
        assert revoked.status_code == 200
        rest = list(lines)  # returns once the node ends the response
        assert not [line for line in rest if line.startswith("event:")]
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=30)  # nothing else was posted: the next thing is the close
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1008
    again = httpx.get(sse_url, params={"access_token": token})
    assert again.status_code == 401


# --- privacy ----------------------------------------------------------------------------------


def test_private_direct_and_local_posts_reach_only_those_allowed(node: RunningNode) -> None:
    author, follower, outsider, recipient = (
        node.create_user(n) for n in ("author", "follower", "outsider", "recipient")
    )
    follow(node, follower, author)
    open_streams = {
        "follower home": lambda r: client(node, follower).stream_user(r, run_async=True),
        "outsider home": lambda r: client(node, outsider).stream_user(r, run_async=True),
        "recipient home": lambda r: client(node, recipient).stream_user(r, run_async=True),
        "recipient direct": lambda r: client(node, recipient).stream_direct(r, run_async=True),
        "outsider direct": lambda r: client(node, outsider).stream_direct(r, run_async=True),
        "outsider public": lambda r: client(node, outsider).stream_public(r, run_async=True),
        "anonymous public": lambda r: client(node, None).stream_public(r, run_async=True),
        "anonymous local": lambda r: client(node, None).stream_public(
            r, run_async=True, local=True
        ),
    }
    with contextlib.ExitStack() as stack:
        heard = stack.enter_context(listening_all(open_streams))
        ws = stack.enter_context(
            connect(ws_url(node, "?stream=user"), subprotocols=[Subprotocol(outsider.token)])
        )
        for stream in ("public", "direct", "public:local"):
            ws.send(json.dumps({"type": "subscribe", "stream": stream}))
        settled(ws)

        private = post(node, author, "followers only", visibility="private")
        secret = post(node, author, f"@{recipient.name} between us", visibility="direct")
        local_only = post(node, author, "this node only", visibility="local")
        # markers, each the last thing its listeners get
        public_marker = post(node, author, "public marker")
        dm_marker = post(
            node, author, f"@{recipient.name} @{outsider.name} a DM to both", visibility="direct"
        )
        outsider_marker = post(node, outsider, "outsider's own")
        recipient_marker = post(node, recipient, "recipient's own")

        heard["follower home"].wait_for_id("update", public_marker)
        heard["outsider home"].wait_for_id("update", outsider_marker)
        heard["recipient home"].wait_for_id("update", recipient_marker)
        for name in ("outsider direct", "recipient direct"):
            heard[name].wait_for(name, lambda n=name: dm_marker in heard[n].status_ids())
        for name in ("outsider public", "anonymous public", "anonymous local"):
            heard[name].wait_for_id("update", public_marker)
        seen_by_socket = frames(ws, is_update_of(outsider_marker))

        def shown(name: str) -> set[str]:
            return heard[name].status_ids()

        assert {private, local_only} <= shown("follower home")
        assert secret not in shown("follower home")
        assert not {private, secret, local_only} & shown("outsider home")
        assert secret in shown("recipient home")
        assert private not in shown("recipient home")
        assert secret in shown("recipient direct")
        conversation = next(d for n, d in heard["recipient direct"].events if n == "conversation")
        assert author.id in {a["id"] for a in conversation["accounts"]}
        assert (conversation["unread"], conversation["last_status"]["id"]) == (True, secret)
        listed = node.api(recipient, "GET", "/api/v1/conversations").json()
        assert conversation["id"] in {c["id"] for c in listed}  # one id, stream and REST
        assert secret not in shown("outsider direct")
        assert local_only in shown("outsider public")  # signed in here: local posts are theirs
        assert not {private, secret} & shown("outsider public")
        for anonymous in ("anonymous public", "anonymous local"):
            assert not {private, secret, local_only} & shown(anonymous)
        on_socket = {socket_status(f) for f in seen_by_socket}
        assert {outsider_marker, dm_marker, public_marker, local_only} <= on_socket
        assert not {private, secret} & on_socket


def test_an_edit_reaches_each_listener_with_its_own_flags(node: RunningNode) -> None:
    """A status is rendered once for all its listeners in a process (web.status_events): the
    flags of one viewer must not reach another."""
    author, keen, plain = (node.create_user(n) for n in ("shared", "keen", "plain"))
    for reader in (keen, plain):
        follow(node, reader, author)
    status_id = post(node, author, "first draft")
    for action in ("favourite", "bookmark"):
        node.api(keen, "POST", f"/api/v1/statuses/{status_id}/{action}").raise_for_status()
    with listening_all(
        {
            "author": lambda r: client(node, author).stream_user(r, run_async=True),
            "keen": lambda r: client(node, keen).stream_user(r, run_async=True),
            "plain": lambda r: client(node, plain).stream_user(r, run_async=True),
        }
    ) as heard:
        node.api(author, "PUT", f"/api/v1/statuses/{status_id}", data={"status": "second"})
        edits = {}
        for name, recorder in heard.items():
            recorder.wait_for_id("status.update", status_id)
            edits[name] = next(d for n, d in recorder.events if n == "status.update")
    assert all("second" in edit["content"] for edit in edits.values())
    assert (edits["keen"]["favourited"], edits["keen"]["bookmarked"]) == (True, True)
    assert (edits["plain"]["favourited"], edits["plain"]["bookmarked"]) == (False, False)
    assert (edits["author"]["favourited"], edits["author"]["bookmarked"]) == (False, False)
    assert edits["keen"]["favourites_count"] == edits["plain"]["favourites_count"] == 1
    # The source text is the author's alone.
    assert edits["author"]["text"] == "second"
    assert edits["keen"]["text"] is None
    assert edits["plain"]["text"] is None


def test_streamed_statuses_are_what_the_api_shows_each_viewer(node: RunningNode) -> None:
    author, keen, plain = (node.create_user(n) for n in ("apiauthor", "apikeen", "apiplain"))
    for reader in (keen, plain):
        follow(node, reader, author)
    with (
        connect(ws_url(node, "?stream=user"), subprotocols=[Subprotocol(keen.token)]) as keen_ws,
        connect(ws_url(node, "?stream=user"), subprotocols=[Subprotocol(plain.token)]) as plain_ws,
    ):
        status_id = post(node, author, "for followers", visibility="private")
        sockets = [(keen, keen_ws), (plain, plain_ws)]
        for reader, ws in sockets:
            (frame,) = frames(ws, is_update_of(status_id))[-1:]
            shown = node.api(reader, "GET", f"/api/v1/statuses/{status_id}").json()
            assert json.loads(frame["payload"]) == shown
        node.api(keen, "POST", f"/api/v1/statuses/{status_id}/bookmark").raise_for_status()
        node.api(author, "PUT", f"/api/v1/statuses/{status_id}", data={"status": "revised"})
        for reader, ws in sockets:
            (frame,) = frames(ws, lambda f: f.get("event") == "status.update")[-1:]
            shown = node.api(reader, "GET", f"/api/v1/statuses/{status_id}").json()
            assert json.loads(frame["payload"]) == shown
            assert shown["bookmarked"] is (reader is keen)


def test_blocked_and_muted_authors_do_not_reach_the_stream(node: RunningNode) -> None:
    author, blocker, muter, fan, other = (
        node.create_user(n) for n in ("loud", "blocker", "muter", "fan", "other")
    )
    for reader in (muter, fan):
        follow(node, reader, author)
    node.api(blocker, "POST", f"/api/v1/accounts/{author.id}/block").raise_for_status()
    node.api(muter, "POST", f"/api/v1/accounts/{author.id}/mute").raise_for_status()
    with listening_all(
        {
            "blocked": lambda r: client(node, blocker).stream_public(r, run_async=True),
            "muted": lambda r: client(node, muter).stream_public(r, run_async=True),
            "muted home": lambda r: client(node, muter).stream_user(r, run_async=True),
            "fans": lambda r: client(node, fan).stream_user(r, run_async=True),
        }
    ) as heard:
        blocked, muted, muted_home, fans_home = heard.values()
        loud = post(node, author, "can you hear me")
        marker = post(node, other, "someone else")
        own = post(node, muter, "the muter's own")
        fans_home.wait_for_id("update", loud)
        blocked.wait_for_id("update", marker)
        muted.wait_for_id("update", marker)
        muted_home.wait_for_id("update", own)
        assert loud not in blocked.status_ids()
        assert loud not in muted.status_ids()
        assert loud not in muted_home.status_ids()
