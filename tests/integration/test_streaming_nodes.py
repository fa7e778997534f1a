"""Streams across processes and nodes: listeners on one web process hear events raised in
another (through Redis), and a follower's stream shows a post made on another node."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import httpx
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from tests import federation_kit as federation
from tests.federation_kit import Plan, network
from tests.kit import RunningNode, User
from tests.scale_kit import ScaledNode, fresh_redis
from tests.stream_kit import client, follow, frames, is_update_of, listening, socket_status, ws_url

STREAMING_REDIS = "redis://127.0.0.1:6379/2"
PROCESS = "X-Flurfunk-Process"


@dataclass
class LoopbackScaledNode(ScaledNode):
    """`serve --workers 2` and a worker, with its PUBLIC_URL on loopback: Mastodon.py streams
    from the URL the instance names, and company host names do not resolve here."""

    @property
    def domain(self) -> str:
        return f"127.0.0.1:{self.port}"


def post_through_one_process(node: RunningNode, author: User, text: str) -> tuple[str, str]:
    """Post on one kept-alive connection after asking which process serves it."""
    headers = {"Authorization": f"Bearer {author.token}"}
    with httpx.Client(base_url=node.url, headers=headers, timeout=30) as connection:
        process = connection.get("/api/v1/streaming/health").headers[PROCESS]
        answer = connection.post("/api/v1/statuses", data={"status": text})
        answer.raise_for_status()
        return process, str(answer.json()["id"])


def test_listeners_on_one_process_hear_events_raised_in_another(tmp_path: Path) -> None:
    fresh_redis(STREAMING_REDIS)
    plan = Plan(env={"FLURFUNK_REDIS_URL": STREAMING_REDIS, "FLURFUNK_STREAMING_HEARTBEAT": "1"})
    with network(tmp_path, "postgres", {"hq": plan}, kind=LoopbackScaledNode) as net:
        hq = net["hq"]
        author, reader = hq.create_user("author"), hq.create_user("reader")
        follow(hq, reader, author)
        with (
            listening(lambda r: client(hq, reader).stream_user(r, run_async=True)) as sse,
            connect(ws_url(hq, "?stream=user"), subprotocols=[Subprotocol(reader.token)]) as ws,
        ):
            listener_processes = {
                sse.handle.connection.headers[PROCESS],
                ws.response.headers[PROCESS],
            }
            posted: dict[str, str] = {}  # status id -> the process that raised its event
            for n in range(100):  # new connections land on either process
                process, status_id = post_through_one_process(hq, author, f"post {n}")
                posted[status_id] = process
                if len(set(posted.values())) == 2:
                    break
            assert len(set(posted.values())) == 2, "every post landed on one process"
            assert listener_processes <= set(posted.values())

            sse.wait_for("every post", lambda: set(posted) <= set(sse.ids("update")))
            last = list(posted)[-1]
            on_socket = {socket_status(f) for f in frames(ws, is_update_of(last))}
            assert set(posted) <= on_socket
            sse.wait_for("heartbeats", lambda: sse.heartbeats >= 3)


# --- across nodes -----------------------------------------------------------------------------


def test_a_remote_post_streams_to_its_local_followers(tmp_path: Path) -> None:
    plans = {"hq": Plan(allow=("sales",)), "sales": Plan(allow=("hq",))}
    with network(tmp_path, "sqlite", plans) as net:
        hq, sales = net["hq"], net["sales"]
        author, reader = hq.create_user("author"), sales.create_user("reader")
        federation.follows(sales, reader, hq, author)
        with connect(ws_url(sales, f"?stream=user&access_token={reader.token}")) as ws:
            note = federation.post(hq, author, "from headquarters")
            arrived = frames(
                ws,
                lambda f: (
                    f.get("event") == "update" and json.loads(f["payload"])["uri"] == note["uri"]
                ),
            )
            local_id = json.loads(arrived[-1]["payload"])["id"]

            hq.api(author, "PUT", f"/api/v1/statuses/{note['id']}", data={"status": "revised"})
            revised = frames(ws, lambda f: f.get("event") == "status.update")[-1]
            assert "revised" in json.loads(revised["payload"])["content"]

            hq.api(author, "DELETE", f"/api/v1/statuses/{note['id']}").raise_for_status()
            assert frames(ws, lambda f: f.get("event") == "delete")[-1]["payload"] == local_id
