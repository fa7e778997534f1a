"""`/admin/emoji`: the node's custom emoji in the browser — upload one (shortcode, category,
image), see them all, remove one. The actions are outbox.custom_emoji's, the same the CLI runs;
staff see the page, those with `manage_node` change it. A refused upload answers 422 with the
page and its reason, and keeps nothing.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from models import emoji as stored
from outbox import custom_emoji
from outbox.emoji_catalogue import EmojiRef
from outbox.emoji_images import MAX_BYTES
from outbox.permissions import AdminError
from web.auth import Caller
from web.node import node_of
from web.ui.access import back, checked_form, flash, operator_of, staff
from web.ui.i18n import translator
from web.ui.render import language, page


async def _page(request: Request, caller: Caller, status: int = 200, **extra: Any) -> Response:
    node = node_of(request)
    async with node.db.read() as session:
        rows = await stored.local_emojis(session)
    assert caller.user is not None
    emojis = [EmojiRef.of(r).entity(node.settings) for r in rows if r.image_path]
    return page(
        request,
        "admin_emoji.html",
        status=status,
        nav="admin",
        section="emoji",
        emojis=emojis,
        is_admin=operator_of(request).may("manage_node"),
        max_kb=MAX_BYTES // 1024,
        **extra,
    )


async def emoji_page(request: Request) -> Response:
    return await _page(request, await staff(request))


async def upload(request: Request) -> Response:
    caller = await staff(request, "manage_node")
    form = await checked_form(request)
    t = translator(language(request))
    shortcode = str(form.get("shortcode") or "").strip().strip(":")
    category = str(form.get("category") or "")
    file = form.get("image")
    data = b""
    if isinstance(file, UploadFile):
        data = await file.read(MAX_BYTES + 1)
    node = node_of(request)
    new = custom_emoji.NewEmoji(shortcode, data, category)
    try:
        await custom_emoji.add(node.db, node.settings, operator_of(request), new)
    except AdminError as exc:
        reason = t("Not added: %(reason)s", reason=str(exc))
        return await _page(
            request, caller, status=exc.status, error=reason, shortcode=shortcode[:64]
        )
    if node.federation is not None and node.federation.emojis is not None:
        await node.federation.emojis.refresh()  # this process at once; others within seconds
    flash(request, t(":%(shortcode)s: added.", shortcode=shortcode))
    return back({}, "/admin/emoji")


async def remove(request: Request) -> Response:
    await staff(request, "manage_node")
    await checked_form(request)
    t = translator(language(request))
    shortcode = str(request.path_params["shortcode"])
    node = node_of(request)
    try:
        await custom_emoji.remove(node.db, node.settings, operator_of(request), shortcode)
    except AdminError as exc:
        flash(request, t("Not done: %(reason)s", reason=str(exc)))
        return back({}, "/admin/emoji")
    if node.federation is not None and node.federation.emojis is not None:
        await node.federation.emojis.refresh()
    flash(request, t(":%(shortcode)s: removed.", shortcode=shortcode))
    return back({}, "/admin/emoji")


routes: list[BaseRoute] = [
    Route("/admin/emoji", emoji_page, methods=["GET"]),
    Route("/admin/emoji", upload, methods=["POST"]),
    Route("/admin/emoji/{shortcode}/remove", remove, methods=["POST"]),
]
