"""What serves /media and /emoji, after every other route (/media/remote/… comes first).

With the directory backend they are StaticFiles mounts on DATA_DIR/media, as they always
were; with S3 they are routes that stream each object through the node with the same headers.
Either way a file under attachments/ loads only after web.api.attachments has checked who asks.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from models.settings import Settings
from outbox import storage
from outbox.storage import Storage
from web.api.attachments import GuardedMediaFiles, local_file
from web.api.emojis import IMMUTABLE, EmojiFiles
from web.api.media import media_headers
from web.api.stored_files import stored_response


def file_routes(settings: Settings) -> list[BaseRoute]:
    if not storage.s3_enabled(settings):
        return [
            Mount(
                "/emoji",
                EmojiFiles(directory=settings.media_dir / "emoji", check_dir=False),
                name="emoji",
            ),
            Mount(
                "/media",
                GuardedMediaFiles(directory=settings.media_dir, check_dir=False),
                name="media",
            ),
        ]
    return [
        Route("/emoji/{path:path}", _emoji, methods=["GET", "HEAD"], name="emoji"),
        Route("/media/{path:path}", _media, methods=["GET", "HEAD"], name="media"),
    ]


async def _media(request: Request) -> Response:
    key = request.path_params["path"]
    if key == "attachments" or key.startswith("attachments/"):
        if not storage.valid_key(key):
            raise HTTPException(404)
        return await local_file(request, key)
    files = storage.media(request.app.state.node.settings)
    return await _found(request, files, key, media_headers(key))


async def _emoji(request: Request) -> Response:
    key = "emoji/" + request.path_params["path"]
    files = storage.media(request.app.state.node.settings)
    return await _found(request, files, key, {**media_headers(key), "Cache-Control": IMMUTABLE})


async def _found(request: Request, files: Storage, key: str, headers: dict[str, str]) -> Response:
    response = await stored_response(request, files, key, headers)
    if response is None:
        raise HTTPException(404)
    return response
