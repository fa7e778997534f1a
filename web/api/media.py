"""Media uploads (POST /api/v2/media, legacy /api/v1/media, GET/PUT/DELETE /api/v1/media/:id)
and the /media mount that serves stored files.

As Mastodon: images, video, audio and most documents are ready when the upload is answered
(200); a PDF's preview is rendered in the background, so v2 answers 202 with `url: null`, and
GET /api/v1/media/:id answers 206 while it is processed, 200 once ready, 422 if it failed.
The legacy v1 upload always waits for the finished attachment, as its clients expect.
"""

from __future__ import annotations

import os
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope

from models.settings import Settings
from models.status import MediaAttachment
from outbox.filetypes import served_type
from outbox.media import (
    MediaError,
    MediaTooLarge,
    Upload,
    create_media,
    delete_media,
    find_unattached,
    largest_upload,
    update_media,
)
from outbox.media_processing import PROCESSING_FAILED, wait_until_processed
from web.api import serializers
from web.api.base import Call, call, ok
from web.api.errors import ApiError, not_found, validation
from web.api.params import parse_id
from web.api.policy_gate import policy_gated
from web.node import node_of

TOO_LARGE = "Request body too large"


def max_upload_body(settings: Settings) -> int:
    """The largest file plus a thumbnail and the form fields around them."""
    return largest_upload(settings) + settings.media_max_bytes_image + 1024 * 1024


# With the default limits: what the reverse-proxy examples in deploy/ must let through.
MAX_UPLOAD_BODY = max_upload_body(Settings())


class _BodyCap:
    """Stops reading a request body that grows past `limit` (chunked bodies have no length)."""

    def __init__(self, receive: Receive, limit: int) -> None:
        self.inner = receive
        self.limit = limit
        self.received = 0
        self.exceeded = False

    async def receive(self) -> Message:
        message = await self.inner()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit:
                self.exceeded = True
                raise ApiError(413, TOO_LARGE)
        return message


async def _upload_call(request: Request) -> Call:
    limit = max_upload_body(node_of(request).settings)
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, TOO_LARGE)
    cap = _BodyCap(request.receive, limit)
    try:
        return await call(Request(request.scope, cap.receive), "write:media")
    except ApiError:
        # The form parser reports any failure as a malformed body; say what really happened.
        if cap.exceeded:
            raise ApiError(413, TOO_LARGE) from None
        raise


def _upload(c: Call, name: str) -> Upload | None:
    file = c.params.file(name)
    if file is None:
        return None
    return Upload(file.file, file.content_type or "", file.filename or "")


async def _close_files(c: Call) -> None:
    for file in c.params.files.values():
        await file.close()


def _attributes(c: Call) -> dict[str, Any]:
    return {
        "description": c.params.text("description"),
        "focus": c.params.text("focus"),
        "thumbnail": _upload(c, "thumbnail"),
    }


@policy_gated
async def upload(request: Request) -> Response:
    c = await _upload_call(request)
    try:
        file = _upload(c, "file")
        if file is None:
            raise validation("File can't be blank")
        media = await create_media(c.node.db, c.node.settings, c.account.id, file, **_attributes(c))
    except MediaTooLarge as exc:
        raise ApiError(413, str(exc)) from None
    except MediaError as exc:
        raise ApiError(422, str(exc)) from None
    finally:
        await _close_files(c)
    if media.processing and request.url.path.startswith("/api/v1/"):
        media = await wait_until_processed(c.node.db, media)
    return _answer(media, c)


def _answer(media: MediaAttachment, c: Call) -> Response:
    if media.processing == PROCESSING_FAILED:
        raise ApiError(422, "Error processing thumbnail for uploaded media")
    data = serializers.media(media, c.node.links(), c.account.id)
    return ok(data, status=202 if media.processing else 200)


async def show(request: Request) -> Response:
    c = await call(request, "write:media")
    media = await find_unattached(c.node.db, c.account.id, parse_id(request.path_params["id"]))
    if media is None:
        raise not_found()
    if media.processing == PROCESSING_FAILED:
        raise ApiError(422, "Error processing thumbnail for uploaded media")
    data = serializers.media(media, c.node.links(), c.account.id)
    return ok(data, status=206 if media.processing else 200)


@policy_gated
async def update(request: Request) -> Response:
    c = await _upload_call(request)
    media_id = parse_id(request.path_params["id"])
    try:
        media = await update_media(
            c.node.db, c.node.settings, c.account.id, media_id, **_attributes(c)
        )
    except MediaError as exc:
        raise ApiError(422, str(exc)) from None
    finally:
        await _close_files(c)
    if media is None:
        raise not_found()
    return ok(serializers.media(media, c.node.links(), c.account.id))


async def remove(request: Request) -> Response:
    c = await call(request, "write:media")
    try:
        deleted = await delete_media(
            c.node.db, c.node.settings, c.account.id, parse_id(request.path_params["id"])
        )
    except MediaError as exc:
        raise ApiError(422, str(exc)) from None
    if not deleted:
        raise not_found()
    return ok()


# An uploaded file is never a page of this node: no script runs in it, nothing loads from it,
# and whatever is not shown inline (a PDF, an office document) is downloaded.
MEDIA_CSP = "default-src 'none'; img-src 'self'; media-src 'self'; sandbox"
INLINE_TYPES = ("image/", "video/", "audio/")
MEDIA_CACHE = "private, no-cache"


def media_headers(name: str) -> dict[str, str]:
    """What every stored file is served with, from the directory or from S3 alike."""
    kind = served_type(name)
    return {
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": MEDIA_CSP,
        "Content-Type": kind,
        "Content-Disposition": "inline" if kind.startswith(INLINE_TYPES) else "attachment",
        # Browsers keep a copy but ask again (a 304 by ETag costs nothing), so that a replaced
        # file is gone at once; shared proxies keep none. Attachments: web.api.attachments.
        "Cache-Control": MEDIA_CACHE,
    }


class MediaFiles(StaticFiles):
    """/media: each file served as the type its extension was chosen for, never sniffed."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        headers = media_headers(os.fspath(full_path))
        if not isinstance(response, FileResponse):  # 304 Not Modified: no content to describe
            headers = {k: v for k, v in headers.items() if not k.startswith("Content-")}
            headers["Content-Security-Policy"] = MEDIA_CSP
        response.headers.update(headers)
        return response


routes = [
    Route("/api/v2/media", upload, methods=["POST"]),
    Route("/api/v1/media", upload, methods=["POST"]),
    Route("/api/v1/media/{id}", show, methods=["GET"]),
    Route("/api/v1/media/{id}", update, methods=["PUT"]),
    Route("/api/v1/media/{id}", remove, methods=["DELETE"]),
]
