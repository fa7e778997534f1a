"""Mastodon's streaming API: server-sent events and a multiplexing WebSocket.

SSE: `GET /api/v1/streaming/<stream path>` (or `/api/v1/streaming?stream=`) answers
`text/event-stream`: an opening comment, then `event: NAME` / `data: <one-line JSON>` blocks,
and a comment every STREAMING_HEARTBEAT seconds while idle. WebSocket: `/api/v1/streaming`,
streams chosen with `?stream=` and with subscribe/unsubscribe messages; frames are
`{"stream": [...], "event": ..., "payload": "<JSON string>"}`, a refused subscription is an
error frame and the socket stays open. The token comes from the Authorization header,
`?access_token=`, or (WebSocket) `Sec-WebSocket-Protocol`, which is then echoed back as
browsers require.

A listener that falls too far behind is dropped (models.broker): its connection is closed and
the client reconnects, instead of the node buffering for it without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Mapping
from types import FrameType
from typing import Any

import orjson
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import HTTPConnection, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from federation import values
from federation.values import InvalidValue
from models.broker import Broker, Subscription, SubscriptionDropped
from web import metrics, streams
from web.api.base import JSONResponse
from web.api.errors import ApiError
from web.auth import caller_for_token, suspension_error
from web.node import Node, node_of
from web.streams import Stream, StreamError, Viewer

log = logging.getLogger("flurfunk.streaming")

PROCESS_HEADER = "X-Flurfunk-Process"  # which web process serves the stream (diagnostics)
MAX_STREAMS = 50  # subscriptions on one WebSocket
SSE_PATHS = {
    "user": "user",
    "user/notification": "user:notification",
    "public": "public",
    "public/local": "public:local",
    "public/remote": "public:remote",
    "hashtag": "hashtag",
    "hashtag/local": "hashtag:local",
    "list": "list",
    "direct": "direct",
}


def end_streams_on_signal(broker: Broker) -> Callable[[], None]:
    """End every stream as soon as SIGTERM or SIGINT arrives; returns the undo.

    uvicorn waits for open responses before it stops the app, and an event stream never ends
    by itself: without this, a stopping node would wait for its listeners forever. The signal
    handler already installed (uvicorn's) still runs after ours.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # signal handlers live in the main thread only
    loop = asyncio.get_running_loop()
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}

    def handler(signum: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(broker.end_streams)
        prior = previous[signal.Signals(signum)]
        if callable(prior):
            prior(signum, frame)
        elif prior == signal.SIG_DFL:
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)

    for signum in previous:
        signal.signal(signum, handler)

    def undo() -> None:
        for signum, prior in previous.items():
            if signal.getsignal(signum) is handler:
                signal.signal(signum, prior)

    return undo


def _broker(node: Node) -> Broker:
    if node.federation is None:
        raise ApiError(503, "The node is starting")
    return node.federation.broker


def _token(conn: HTTPConnection) -> str | None:
    scheme, _, value = conn.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return conn.query_params.get("access_token") or None


async def _viewer(node: Node, token: str | None) -> Viewer:
    if token is None:
        return Viewer()
    async with node.db.read() as session:
        caller = await caller_for_token(session, token)
    if caller is None:
        raise ApiError(401, "The access token is invalid")
    refusal = suspension_error(caller.account)
    if refusal is not None:
        raise ApiError(403, refusal)
    return Viewer(caller)


async def _open(node: Node, viewer: Viewer, name: str, params: Mapping[str, Any]) -> Stream:
    async with node.db.read() as session:
        return await streams.open_stream(session, viewer, name, params)


async def _render(node: Node, viewer: Viewer, channel: str, raw: bytes) -> tuple[str, str] | None:
    try:
        return await streams.render(node, viewer, channel, raw)
    except SQLAlchemyError:
        log.warning("stream event on %s skipped: the database failed", channel, exc_info=True)
        return None


async def health(request: Request) -> Response:
    broker = _broker(node_of(request))
    return PlainTextResponse("OK", headers={PROCESS_HEADER: broker.origin})


# --- server-sent events ----------------------------------------------------------------------


def _chunk(data: bytes) -> dict[str, Any]:
    return {"type": "http.response.body", "body": data, "more_body": True}


class EventStream(Response):
    """An endless `text/event-stream` answer fed by one subscription."""

    media_type = "text/event-stream"

    def __init__(self, node: Node, viewer: Viewer, subscription: Subscription) -> None:
        self.node, self.viewer, self.subscription = node, viewer, subscription
        self.status_code = 200
        self.background = None
        self.init_headers(
            {
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",  # nginx: pass events on at once
                PROCESS_HEADER: _broker(node).origin,
            }
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with metrics.open_stream("sse"):
            await self._serve(receive, send)

    async def _serve(self, receive: Receive, send: Send) -> None:
        async with self.subscription:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            await send(_chunk(b":)\n\n"))
            pump = asyncio.create_task(self._pump(send))
            hangup = asyncio.create_task(_hangup(receive))
            await asyncio.wait({pump, hangup}, return_when=asyncio.FIRST_COMPLETED)
            for task in (pump, hangup):
                task.cancel()
            await asyncio.gather(pump, hangup, return_exceptions=True)
            if hangup.cancelled():  # the node ends the stream: finish the body if we can
                with contextlib.suppress(TimeoutError, OSError):
                    await asyncio.wait_for(send(dict(_chunk(b""), more_body=False)), 1)
            if not pump.cancelled() and not isinstance(pump.exception(), SubscriptionDropped):
                pump.result()  # a bug: let the server log it

    async def _pump(self, send: Send) -> None:
        heartbeat = self.node.settings.streaming_heartbeat
        while True:
            try:
                channel, raw = await asyncio.wait_for(self.subscription.get(), heartbeat)
            except TimeoutError:
                await send(_chunk(b":thump\n\n"))
                continue
            except SubscriptionDropped:
                if not _broker(self.node).ending:
                    log.info("SSE listener dropped: too far behind")
                raise
            if channel in self.viewer.revocation:
                return  # the token was revoked: the stream ends (a reconnect gets 401)
            event = await _render(self.node, self.viewer, channel, raw)
            if event is not None:
                name, data = event
                await send(_chunk(f"event: {name}\ndata: {data}\n\n".encode()))


async def _hangup(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        continue


def _stream_name(request: Request) -> str:
    rest = request.url.path.removeprefix("/api/v1/streaming").strip("/")
    name = SSE_PATHS.get(rest) if rest else request.query_params.get("stream", "")
    if name is None:
        raise ApiError(404, "Record not found")
    if name in ("public", "public:local", "public:remote") and request.query_params.get(
        "only_media", ""
    ).lower() in ("1", "true"):
        name += ":media"
    return name


async def event_stream(request: Request) -> Response:
    node = node_of(request)
    name = _stream_name(request)
    viewer = await _viewer(node, _token(request))
    return await open_event_stream(node, viewer, name, request.query_params)


async def open_event_stream(
    node: Node, viewer: Viewer, name: str, params: Mapping[str, Any]
) -> Response:
    """An event stream of `name` for `viewer`; the web pages open theirs with the browser
    session's caller (web.ui.live)."""
    broker = _broker(node)
    try:
        stream = await _open(node, viewer, name, params)
    except StreamError as exc:
        raise ApiError(exc.status, exc.message) from None
    subscription = broker.subscribe()
    await subscription.add(*stream.channels, *viewer.revocation)
    return EventStream(node, viewer, subscription)


# --- WebSocket ---------------------------------------------------------------------------------


class Multiplex:
    """One WebSocket: several streams over one subscription."""

    def __init__(self, ws: WebSocket, node: Node, viewer: Viewer) -> None:
        self.ws, self.node, self.viewer = ws, node, viewer
        self.subscription = _broker(node).subscribe()
        self.streams: dict[tuple[str, ...], Stream] = {}
        self._sending = asyncio.Lock()

    async def send(self, frame: dict[str, Any]) -> None:
        async with self._sending:
            await self.ws.send_text(orjson.dumps(frame).decode())

    async def refuse(self, exc: StreamError) -> None:
        await self.send({"error": exc.message, "status": exc.status})

    async def subscribe(self, params: Mapping[str, Any]) -> None:
        try:
            stream = await _open(self.node, self.viewer, str(params.get("stream", "")), params)
        except StreamError as exc:
            await self.refuse(exc)
            return
        if stream.key in self.streams:
            return
        if len(self.streams) >= MAX_STREAMS:
            await self.refuse(StreamError(400, f"At most {MAX_STREAMS} streams per connection"))
            return
        self.streams[stream.key] = stream
        await self.subscription.add(*stream.channels)

    async def unsubscribe(self, params: Mapping[str, Any]) -> None:
        try:
            key = streams.key_of(str(params.get("stream", "")), params)
        except StreamError as exc:
            await self.refuse(exc)
            return
        stream = self.streams.pop(key, None)
        if stream is None:
            return
        still = {c for s in self.streams.values() for c in s.channels}
        await self.subscription.remove(*(c for c in stream.channels if c not in still))

    async def commands(self) -> None:
        """Subscribe and unsubscribe messages, until the client goes away."""
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            try:
                command = values.json_document(message.get("text") or message.get("bytes") or b"")
            except InvalidValue:
                await self.refuse(StreamError(400, "Could not parse the message as JSON"))
                continue
            kind = command.get("type") if isinstance(command, dict) else None
            if kind == "subscribe":
                await self.subscribe(command)
            elif kind == "unsubscribe":
                await self.unsubscribe(command)
            else:
                await self.refuse(StreamError(400, "Unknown message type"))

    async def pump(self) -> None:
        while True:
            channel, raw = await self.subscription.get()
            if channel in self.viewer.revocation:
                raise TokenRevoked
            listening = [s for s in self.streams.values() if channel in s.channels]
            if not listening:
                continue
            event = await _render(self.node, self.viewer, channel, raw)
            if event is None:
                continue
            name, payload = event
            frame: dict[str, Any] = {"event": name}
            if payload != streams.NO_PAYLOAD:  # as Mastodon: an event without data has none
                frame["payload"] = payload
            for stream in listening:
                await self.send({"stream": list(stream.key), **frame})


def _offered_protocol(ws: WebSocket) -> str | None:
    offered: list[str] = ws.scope.get("subprotocols") or []
    return offered[0] if offered else None


async def websocket_stream(ws: WebSocket) -> None:
    node = node_of(ws)
    protocol = _offered_protocol(ws)
    try:
        broker = _broker(node)
        viewer = await _viewer(node, _token(ws) or protocol)
    except ApiError as exc:
        await ws.send_denial_response(JSONResponse({"error": exc.message}, status_code=exc.status))
        return
    # Browsers can pass the token only as a subprotocol, and drop the socket unless it is
    # echoed back.
    await ws.accept(
        subprotocol=protocol, headers=[(PROCESS_HEADER.lower().encode(), broker.origin.encode())]
    )
    with metrics.open_stream("websocket"):
        await _multiplex(ws, broker, Multiplex(ws, node, viewer))


class TokenRevoked(Exception):
    """The connection's token was revoked while it was open."""


async def _multiplex(ws: WebSocket, broker: Broker, connection: Multiplex) -> None:
    async with connection.subscription:
        await connection.subscription.add(*connection.viewer.revocation)
        if ws.query_params.get("stream"):
            await connection.subscribe(ws.query_params)
        pump = asyncio.create_task(connection.pump())
        commands = asyncio.create_task(connection.commands())
        await asyncio.wait({pump, commands}, return_when=asyncio.FIRST_COMPLETED)
        for task in (pump, commands):
            task.cancel()
        await asyncio.gather(pump, commands, return_exceptions=True)
        ended = None if pump.cancelled() else pump.exception()
        if isinstance(ended, SubscriptionDropped):
            # 1012: service restart; 1013: try again later (this listener fell behind)
            code = 1012 if broker.ending else 1013
            if code == 1013:
                log.info("WebSocket listener dropped: too far behind")
            with contextlib.suppress(TimeoutError, OSError, RuntimeError):
                await asyncio.wait_for(ws.close(code=code), 1)
        elif isinstance(ended, TokenRevoked):
            with contextlib.suppress(TimeoutError, OSError, RuntimeError):
                await asyncio.wait_for(ws.close(code=1008, reason="access token revoked"), 1)
        elif ended is not None and not isinstance(ended, WebSocketDisconnect):
            raise ended  # a bug: let the server log it


routes: list[BaseRoute] = [
    Route("/api/v1/streaming/health", health, methods=["GET", "HEAD"]),
    *(Route(f"/api/v1/streaming/{path}", event_stream, methods=["GET"]) for path in SSE_PATHS),
    Route("/api/v1/streaming", event_stream, methods=["GET"]),
    WebSocketRoute("/api/v1/streaming", websocket_stream),
]
