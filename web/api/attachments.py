"""Serving attachments: `/media/attachments/…` (uploads to this node) and the checks that
`/media/remote/<key>` (copies of remote files) shares.

Who may load a file is decided in outbox.media_access from the rows at every request. A
confidential file loads for a viewer named by a valid signed URL, a bearer token or the web
session of someone allowed to see its post, or a signed fetch by a node that has a follower
or recipient of it. Everything refused answers the same uncached 404 as a file that does not
exist, so nobody learns that one does. Public files stay cacheable by anyone; confidential
ones are marked private and not to be stored.

Bytes come from outbox.storage (DATA_DIR or S3) through web.api.stored_files alone.
"""

from __future__ import annotations

import os

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from inbox.receive import check_signature
from outbox import media_access, storage
from outbox.filetypes import served_type
from outbox.media_access import Guard
from web.api.base import JSONResponse, bearer_token
from web.api.media import INLINE_TYPES, MEDIA_CSP, MediaFiles
from web.api.stored_files import stored_response
from web.auth import caller_for_token, suspension_error
from web.node import node_of
from web.ui.session import AccountSuspended, web_caller

PUBLIC_CACHE = "public, max-age=300"  # short: a deleted post's files must vanish from caches
PRIVATE_CACHE = "private, no-store"


def missing() -> Response:
    return JSONResponse(
        {"error": "Record not found"}, status_code=404, headers={"Cache-Control": "no-store"}
    )


def file_headers(media_type: str, public: bool) -> dict[str, str]:
    inline = media_type.startswith(INLINE_TYPES)
    return {
        "Content-Type": media_type,
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": MEDIA_CSP,
        "Content-Disposition": "inline" if inline else "attachment",
        "Cache-Control": PUBLIC_CACHE if public else PRIVATE_CACHE,
    }


async def admitted(request: Request, guard: Guard, *, nodes: bool = True) -> bool:
    """Whether this request may load a file with `guard`: cheapest proof first. `nodes`:
    whether a signed fetch by another node counts (for this node's own attachments)."""
    if guard.public:
        return True
    node = node_of(request)
    path = request.scope["path"]
    signed = media_access.signed_viewer(node.settings, path, request.query_params)
    async with node.db.read() as session:
        if signed is not None and await guard.admits(session, signed):
            return True
        token = bearer_token(request)
        if token is not None:
            caller = await caller_for_token(session, token)
            account = caller.account if caller is not None else None
            if account is not None and suspension_error(account) is None:
                return await guard.admits(session, account.id)
            return False
    viewer_id = await _session_viewer(request)
    if viewer_id is not None:
        async with node.db.read() as session:
            return await guard.admits(session, viewer_id)
    host = await _signing_node(request) if nodes else None
    if host is None:
        return False
    async with node.db.read() as session:
        return await guard.admits_host(session, host)


async def _session_viewer(request: Request) -> int | None:
    if not request.session.get("sid"):
        return None
    try:
        caller = await web_caller(request)
    except AccountSuspended:
        return None
    return caller.account.id if caller is not None and caller.account is not None else None


async def _signing_node(request: Request) -> str | None:
    """host[:port] of an allowed node that signed this GET (authorized fetch), else None."""
    headers = {k.lower(): v for k, v in request.headers.items()}
    fed = node_of(request).federation
    if fed is None or not ("signature" in headers or "signature-input" in headers):
        return None
    query = request.url.query
    target = fed.settings.url(request.url.path) + ("?" + query if query else "")
    signer, verdict = await check_signature(fed, "GET", target, headers, None)
    return signer if verdict.status == 202 and signer else None


async def local_file(request: Request, relative: str) -> Response:
    """`/media/<relative>` for a file under attachments/ (`relative` normalised)."""
    node = node_of(request)
    async with node.db.read() as session:
        guard = await media_access.local_attachment(session, relative)
    if guard is None or not await admitted(request, guard):
        return missing()
    headers = file_headers(served_type(relative), guard.public)
    answer = await stored_response(request, storage.media(node.settings), relative, headers)
    return answer or missing()


class GuardedMediaFiles(MediaFiles):
    """/media: avatars and headers as static files; attachments only after the check."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        relative = path.replace(os.sep, "/")
        if relative == "attachments" or relative.startswith("attachments/"):
            if scope["method"] not in ("GET", "HEAD"):
                return missing()
            return await local_file(Request(scope), relative)
        return await super().get_response(path, scope)
