"""The response for a stored file (outbox.storage), from the directory or from S3 alike.

From a directory the file goes out with sendfile, ranges and conditional requests as
Starlette serves them. From S3 the node reads the object and streams it itself, one byte
range at a time, with an ETag. Browsers are never sent to the bucket: staff cannot reach it,
and confidential files must stay behind the node's checks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from email.utils import formatdate

import anyio
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse

from outbox import storage
from outbox.storage import Reader, Storage


async def stored_response(
    request: Request, files: Storage, key: str, headers: dict[str, str]
) -> Response | None:
    """The stored file `key` with `headers` (Content-Type among them); None when missing."""
    local = files.local_path(key)
    if local is not None:
        if not await anyio.to_thread.run_sync(local.is_file):
            return None
        return FileResponse(local, media_type=headers.get("Content-Type"), headers=headers)
    if not storage.valid_key(key):
        return None
    asked = _asked_range(request.headers)
    if request.method == "HEAD" or asked is not None:
        stat = await anyio.to_thread.run_sync(files.stat, key)
        if stat is None:
            return None
        if request.method == "HEAD":
            return Response(
                b"", headers={**_version(stat), **headers, "Content-Length": str(stat.size)}
            )
        span = _span(asked or "", stat.size)
        if span is None:
            return Response(status_code=416, headers={"Content-Range": f"bytes */{stat.size}"})
        reader = await anyio.to_thread.run_sync(files.open, key, *span)
    else:
        reader = await anyio.to_thread.run_sync(files.open, key)
    if reader is None:
        return None
    own = {**_version(reader.stat), **headers, "Content-Length": str(reader.length)}
    if request.headers.get("if-none-match") == reader.stat.etag and asked is None:
        await anyio.to_thread.run_sync(reader.close)
        return Response(
            status_code=304, headers={k: v for k, v in own.items() if k != "Content-Length"}
        )
    status = 200
    if asked is not None:
        status = 206
        last = reader.start + reader.length - 1
        own["Content-Range"] = f"bytes {reader.start}-{last}/{reader.stat.size}"
    return StreamingResponse(_chunks(reader), status_code=status, headers=own)


def _version(stat: storage.Stat) -> dict[str, str]:
    return {
        "Accept-Ranges": "bytes",
        "ETag": stat.etag,
        "Last-Modified": formatdate(stat.modified, usegmt=True),
    }


def _asked_range(headers: Headers) -> str | None:
    """One `bytes=` range, when the request asks for exactly one and not under If-Range (whose
    validator a bucket cannot check in the same request); otherwise the whole file, as RFC
    9110 allows a server to answer any range request."""
    value = headers.get("range")
    if value is None or "if-range" in headers:
        return None
    unit, _, spec = value.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash or not (first or last) or not (first + last).isdigit():
        return None
    return spec.strip()


def _span(spec: str, size: int) -> tuple[int, int] | None:
    """(first, last byte) of a checked `a-b`, `a-` or `-n` within `size`; None: unsatisfiable."""
    first, _, last = spec.partition("-")
    if not first:  # the last n bytes
        count = int(last)
        return None if count == 0 or size == 0 else (max(0, size - count), size - 1)
    start = int(first)
    end = size - 1 if not last else min(int(last), size - 1)
    return None if start >= size or end < start else (start, end)


async def _chunks(reader: Reader) -> AsyncIterator[bytes]:
    try:
        while chunk := await anyio.to_thread.run_sync(reader.read, storage.CHUNK // 4):
            yield chunk
    finally:
        await anyio.to_thread.run_sync(reader.close)
