"""Media uploads (POST /api/v2/media, legacy /api/v1/media, GET/PUT/DELETE /api/v1/media/:id)
and the /media mount that serves stored files.

Uploads are processed before the answer (images take milliseconds), so v2 answers 200 with
the finished attachment, never 202 with `url: null`, and GET never sees one in progress.
"""

from __future__ import annotations

import os
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope

from outbox.filetypes import served_type
from outbox.media import (
    SIZE_LIMITS,
    MediaError,
    Upload,
    create_media,
    delete_media,
    find_unattached,
    update_media,
)
from web.api import serializers
from web.api.base import Call, call, ok
from web.api.errors import ApiError, not_found, validation
from web.api.params import parse_id
from web.api.policy_gate import policy_gated

# The largest file plus a thumbnail and the form fields around them.
MAX_UPLOAD_BODY = SIZE_LIMITS["video"] + SIZE_LIMITS["image"] + 1024 * 1024
TOO_LARGE = "Request body too large"


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
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > MAX_UPLOAD_BODY:
        raise ApiError(413, TOO_LARGE)
    cap = _BodyCap(request.receive, MAX_UPLOAD_BODY)
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
    except MediaError as exc:
        raise ApiError(422, str(exc)) from None
    finally:
        await _close_files(c)
    return ok(serializers.media(media, c.node.links(), c.account.id))


async def show(request: Request) -> Response:
    c = await call(request, "write:media")
    media = await find_unattached(c.node.db, c.account.id, parse_id(request.path_params["id"]))
    if media is None:
        raise not_found()
    return ok(serializers.media(media, c.node.links(), c.account.id))


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


def media_headers(name: str) -> dict[str, str]:
    """What every stored file is served with, from the directory or from S3 alike."""
    kind = served_type(name)
    return {
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": MEDIA_CSP,
        "Content-Type": kind,
        "Content-Disposition": "inline" if kind.startswith(INLINE_TYPES) else "attachment",
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
