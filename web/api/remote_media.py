"""`/media/remote/<key>`: this node's copies of other hosts' files (attachments, avatars,
headers, link preview images), so that browsers and apps never load another host's URL.

A copy is served only while its origin host is allowed — on the federation allowlist, or for
link preview images on FLURFUNK_PREVIEW_HOSTS: a host removed from the allowlist loses its
files from view at once. A copy of an attachment of a post that is not public loads only for
local people who may see the post (web.api.attachments). Everything refused (unknown, not
fetched yet, failed, not allowed) answers 404, uncached, so the same URL works once the copy
exists.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from federation.allowlist import Allowlist
from models.remote_file import RemoteFile
from outbox import media_access, storage
from web.api.attachments import admitted, file_headers
from web.api.base import JSONResponse
from web.api.stored_files import stored_response
from web.node import node_of


def _missing() -> Response:
    return JSONResponse(
        {"error": "Record not found"}, status_code=404, headers={"Cache-Control": "no-store"}
    )


async def remote_file(request: Request) -> Response:
    key = request.path_params["key"]
    if not (len(key) == 40 and key.isascii() and key.isalnum()):
        return _missing()
    node = node_of(request)
    fed = node.federation
    if fed is None:
        return _missing()
    async with node.db.read() as session:
        query = RemoteFile.__table__.select().where(RemoteFile.key == key)
        found = (await session.execute(query)).first()
    if found is None or not found.path or not found.content_type:
        return _missing()
    hosts: Allowlist = fed.preview_hosts or fed.allowlist()
    if not (fed.allowlist().allows_url(found.url) or hosts.allows_url(found.url)):
        return _missing()
    # An attachment of a post that is not public loads only for people who may see the post.
    async with node.db.read() as session:
        guard = await media_access.remote_copy(session, found.url)
    if not await admitted(request, guard, nodes=False):
        return _missing()
    # The public cache is short: a host removed from the allowlist must vanish from caches too.
    headers = file_headers(found.content_type, guard.public)
    response = await stored_response(request, storage.remote(node.settings), found.path, headers)
    return response or _missing()


routes = [Route("/media/remote/{key}", remote_file, methods=["GET", "HEAD"])]
