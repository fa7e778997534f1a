"""`GET /api/v1/custom_emojis` (the node's own emoji, for apps' pickers) and `/emoji/…`, where
this node serves every emoji image it shows, its own and its copies of other nodes'."""

from __future__ import annotations

import os

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Scope

from models import emoji as stored
from outbox.emoji_catalogue import EmojiRef
from web.api.base import call, ok
from web.api.media import MediaFiles

IMMUTABLE = "public, max-age=31536000, immutable"


async def custom_emojis(request: Request) -> Response:
    c = await call(request, None, optional=True)
    async with c.node.db.read() as session:
        rows = await stored.local_emojis(session)
    settings = c.node.settings
    return ok([EmojiRef.of(r).entity(settings) for r in rows if r.image_path])


class EmojiFiles(MediaFiles):
    """Emoji images: a file name is never reused for other content, so caches keep it."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = IMMUTABLE
        return response


routes = [Route("/api/v1/custom_emojis", custom_emojis, methods=["GET"])]
