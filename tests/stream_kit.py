"""Listening to a node's streams in tests: Mastodon.py SSE listeners run in threads, and
WebSocket frames read with the `websockets` client."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from mastodon import Mastodon, StreamListener
from websockets.sync.client import ClientConnection

from tests.kit import RunningNode, User

WAIT = 15.0


class Recorder(StreamListener):
    """Keeps what one Mastodon.py stream delivers."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self.heartbeats = 0
        self.handle: Any = None  # Mastodon.py's stream handle
        self._lock = threading.Lock()

    def on_any_event(self, name: str, data: Any = None) -> None:
        with self._lock:
            self.events.append((name, data))

    def handle_heartbeat(self) -> None:
        self.heartbeats += 1

    def ids(self, event: str) -> list[str]:
        """Ids of the statuses (or notifications) of one event type; for `delete`, the ids."""
        with self._lock:
            found = [data for name, data in self.events if name == event]
        return [str(d["id"]) if isinstance(d, dict) else str(d) for d in found]

    def status_ids(self) -> set[str]:
        """Every status this listener was shown, as a post, a boost or inside a notification."""
        shown: set[str] = set()
        with self._lock:
            events = list(self.events)
        for name, data in events:
            if name in ("update", "status.update"):
                shown.add(str(data["id"]))
                if data.get("reblog"):
                    shown.add(str(data["reblog"]["id"]))
            elif name == "notification" and data.get("status"):
                shown.add(str(data["status"]["id"]))
            elif name == "conversation":
                shown.add(str(data["last_status"]["id"]))
        return shown

    def wait_for(self, what: str, check: Callable[[], bool]) -> None:
        deadline = time.monotonic() + WAIT
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not within {WAIT:.0f} s; got {self.events!r}")
            time.sleep(0.05)

    def wait_for_id(self, event: str, wanted: str) -> None:
        self.wait_for(f"{event} {wanted}", lambda: wanted in self.ids(event))


def client(node: RunningNode, user: User | None) -> Mastodon:
    return Mastodon(access_token=user.token if user else None, api_base_url=node.url)


Start = Callable[[Recorder], Any]


@contextlib.contextmanager
def listening_all(starts: dict[str, Start]) -> Iterator[dict[str, Recorder]]:
    """Run Mastodon.py streams, each in its thread (`run_async=True`), until the block ends.

    A closed stream's thread notices only at the next byte from the node (a heartbeat every
    second here), so all streams are closed first and then waited for together.
    """
    recorders = {name: Recorder() for name in starts}
    handles = []
    try:
        for name, start in starts.items():
            recorders[name].handle = start(recorders[name])
            handles.append(recorders[name].handle)
        for recorder in recorders.values():
            # The opening comment counts as a heartbeat: from then on it is subscribed.
            recorder.wait_for("the stream to open", lambda r=recorder: r.heartbeats > 0)
        yield recorders
    finally:
        for handle in handles:
            handle.close()
        for handle in handles:
            handle.join(10)


@contextlib.contextmanager
def listening(start: Start) -> Iterator[Recorder]:
    with listening_all({"stream": start}) as recorders:
        yield recorders["stream"]


def post(node: RunningNode, user: User, text: str, **fields: str) -> str:
    answer = node.api(user, "POST", "/api/v1/statuses", data={"status": text, **fields})
    answer.raise_for_status()
    return str(answer.json()["id"])


def follow(node: RunningNode, follower: User, target: User) -> None:
    node.api(follower, "POST", f"/api/v1/accounts/{target.id}/follow").raise_for_status()


def ws_url(node: RunningNode, query: str = "") -> str:
    return node.url.replace("http", "ws", 1) + "/api/v1/streaming" + query


def frames(ws: ClientConnection, until: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
    """Frames read until one satisfies `until` (it included)."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + WAIT
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no wanted frame within {WAIT:.0f} s; got {seen!r}")
        try:
            frame = json.loads(ws.recv(timeout=remaining))
        except TimeoutError:
            continue
        seen.append(frame)
        if until(frame):
            return seen


def socket_status(frame: dict[str, Any]) -> str | None:
    """The id of the status a WebSocket frame shows, if any."""
    if frame.get("event") in ("update", "status.update"):
        return str(json.loads(frame["payload"])["id"])
    if frame.get("event") == "conversation":
        return str(json.loads(frame["payload"])["last_status"]["id"])
    return None


def is_update_of(status_id: str) -> Callable[[dict[str, Any]], bool]:
    return lambda f: f.get("event") == "update" and json.loads(f["payload"])["id"] == status_id


def settled(ws: ClientConnection) -> None:
    """Wait until the subscribe and unsubscribe messages sent so far have taken effect.

    A good subscription is not answered; the socket handles messages in order, so the error
    frame of a bad one sent last says that the earlier ones are done.
    """
    ws.send(json.dumps({"type": "subscribe", "stream": "no such stream"}))
    frames(ws, lambda f: "error" in f)
