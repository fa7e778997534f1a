"""Live updates for the pages: the node's own event stream, opened with the browser session.

The pages' script cannot hold a bearer token (the session cookie is HttpOnly, and a token in
script reach is one XSS away from theft), so it subscribes here: the same streams and the
same events as `/api/v1/streaming`, authenticated by the session. The stream ends when the
session does (its token is revoked), and the browser's reconnect then gets 401.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from web.api.base import JSONResponse
from web.node import node_of
from web.streaming import open_event_stream
from web.streams import Viewer
from web.ui.session import web_caller

PAGE_STREAMS = (
    "user",
    "user:notification",
    "direct",
    "public",
    "public:local",
    "hashtag",
    "list",
)


async def stream(request: Request) -> Response:
    caller = await web_caller(request)
    if caller is None:
        return JSONResponse({"error": "Not signed in"}, status_code=401)
    name = request.query_params.get("stream", "")
    if name not in PAGE_STREAMS:
        return JSONResponse({"error": "Unknown stream"}, status_code=400)
    return await open_event_stream(node_of(request), Viewer(caller), name, request.query_params)


routes: list[BaseRoute] = [Route("/web/streaming", stream, methods=["GET"])]
