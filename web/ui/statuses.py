"""Statuses in the browser: the composer's POST, a status page with its thread and inline
reply, favourite/boost/bookmark/delete, and single statuses for live updates."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from models.account import Account
from outbox.content import PLAIN
from outbox.media import MediaError, Upload, create_media
from outbox.media_processing import wait_until_processed
from outbox.status_parts import render_body
from web.api.policy_gate import policy_gated
from web.api.resolve import mention_resolver
from web.node import node_of
from web.ui.access import back, checked_form, flash, viewer
from web.ui.calls import api
from web.ui.i18n import translator
from web.ui.render import composer_reminder, language, page, render_fragment
from web.ui.session import safe_next, web_caller

ACTIONS = ("favourite", "unfavourite", "reblog", "unreblog", "bookmark", "unbookmark")


def _status_id(request: Request) -> str | None:
    value = str(request.path_params.get("status_id", ""))
    return value if value.isdigit() and len(value) <= 19 else None


async def _attachment(request: Request, form: FormData) -> str | None:
    """Store the composer's file (if any) as the API's media upload does; its id."""
    file = form.get("file")
    if not isinstance(file, UploadFile) or not file.filename:
        return None
    caller = await viewer(request)
    assert caller.account is not None
    node = node_of(request)
    description = str(form.get("description") or "").strip() or None
    media = await create_media(
        node.db,
        node.settings,
        caller.account.id,
        Upload(file.file, file.content_type or "", file.filename or ""),
        description=description,
    )
    if media.processing:  # a PDF's preview: the post waits for it (a few seconds at most)
        media = await wait_until_processed(node.db, media)
    return str(media.id)


def _poll(form: FormData) -> dict[str, Any] | None:
    options = [str(o).strip() for o in form.getlist("poll_option") if str(o).strip()]
    if not options:
        return None
    expires = str(form.get("poll_expires_in") or "86400")
    return {"options": options, "expires_in": int(expires) if expires.isdigit() else 86400}


async def _preview(request: Request, form: FormData) -> dict[str, Any]:
    """What the text becomes (links, mentions that resolve, hashtags), without posting: the
    body as a status card would show it, and who is mentioned (by acct, for their pages)."""
    caller = await viewer(request)
    assert caller.account is not None
    node = node_of(request)
    text = str(form.get("status") or "")
    resolver = await mention_resolver(node, [text])
    async with node.db.read() as session:
        rendered = await render_body(
            session, node.settings, caller.account.id, text, PLAIN, resolver
        )
        ids = [m.account_id for m in rendered.mentions]
        found = await session.scalars(select(Account).where(Account.id.in_(ids)))
        accts = {a.id: a.acct() for a in found} if ids else {}
    mentions = [
        {"url": m.url, "acct": accts[m.account_id]}
        for m in rendered.mentions
        if m.account_id in accts
    ]
    return {
        "shown": {"content": rendered.html, "mentions": mentions},
        "tags": rendered.tags,
        "spoiler_text": str(form.get("spoiler_text") or ""),
    }


async def preview(request: Request, form: FormData) -> Response:
    """The composer's Preview button without JavaScript: a page with the preview and the
    composer filled in as it was."""
    return page(
        request,
        "preview.html",
        **await _preview(request, form),
        confidentiality_reminder=await composer_reminder(request),
        text=str(form.get("status") or ""),
        visibility=str(form.get("visibility") or "public"),
        reply_to=str(form.get("in_reply_to_id") or ""),
        back_to=safe_next(form.get("next")),
    )


async def preview_fragment(request: Request) -> Response:
    """The same preview for the live script, shown under the composer without leaving it."""
    if await web_caller(request) is None:
        return HTMLResponse("", status_code=401)
    form = await checked_form(request)
    return render_fragment(request, "fragment_preview.html", **await _preview(request, form))


@policy_gated  # before the attachment is stored, not only before the post
async def compose(request: Request) -> Response:
    await viewer(request)
    form = await checked_form(request)
    if form.get("preview"):
        return await preview(request, form)
    t = translator(language(request))
    body: dict[str, Any] = {
        "status": str(form.get("status") or ""),
        "spoiler_text": str(form.get("spoiler_text") or ""),
        "visibility": str(form.get("visibility") or ""),
    }
    if form.get("in_reply_to_id"):
        body["in_reply_to_id"] = str(form.get("in_reply_to_id"))
    poll = _poll(form)
    if poll is not None:
        body["poll"] = poll
    try:
        media_id = await _attachment(request, form)
    except MediaError as exc:
        flash(request, t("The post was not published: %(reason)s", reason=str(exc)))
        return back(form)
    if media_id is not None:
        body["media_ids"] = [media_id]
    answer = await api(request, "POST", "/api/v1/statuses", body=body)
    if not answer.ok:
        flash(request, t("The post was not published: %(reason)s", reason=answer.error))
    return back(form)


async def status_page(request: Request) -> Response:
    await viewer(request)
    t = translator(language(request))
    status_id = _status_id(request)
    shown = await api(request, "GET", "/api/v1/statuses/{id}", path={"id": status_id or "0"})
    if status_id is None or not shown.ok:
        return page(request, "error.html", status=404, message=t("This post does not exist."))
    thread = await api(request, "GET", "/api/v1/statuses/{id}/context", path={"id": status_id})
    status = shown.data
    context = thread.data if thread.ok else {"ancestors": [], "descendants": []}
    caller = await viewer(request)
    mentions = [status["account"]["acct"], *(m["acct"] for m in status["mentions"])]
    own = caller.account.username if caller.account else ""
    reply_text = " ".join(dict.fromkeys(f"@{m}" for m in mentions if m != own))
    return page(
        request,
        "status.html",
        post=status,
        ancestors=context["ancestors"],
        descendants=context["descendants"],
        reply_text=reply_text + " " if reply_text else "",
        reply_visibility=status["visibility"],
        confidentiality_reminder=await composer_reminder(request),
    )


async def act(request: Request) -> Response:
    await viewer(request)
    form = await checked_form(request)
    status_id = _status_id(request)
    action = request.path_params["action"]
    if action == "actions":  # the status card's one form: the button pressed names it
        action = str(form.get("action") or "")
    t = translator(language(request))
    if status_id is None or action not in (*ACTIONS, "delete"):
        return page(request, "error.html", status=404, message=t("This post does not exist."))
    if action == "delete":
        # The pages have no redraft: the files go with the post (as Mastodon's web app).
        answer = await api(
            request,
            "DELETE",
            "/api/v1/statuses/{id}",
            path={"id": status_id},
            query={"delete_media": "true"},
        )
        fallback = "/"
    else:
        route = f"/api/v1/statuses/{{id}}/{action}"
        answer = await api(request, "POST", route, path={"id": status_id})
        fallback = "/@{acct}/{status_id}".format(**request.path_params)
    if not answer.ok:
        flash(request, answer.error)
    if action == "delete":
        return back({}, fallback)
    return back(form, fallback)


async def fragment(request: Request) -> Response:
    """One status as the timelines show it: what the live script inserts."""
    if await web_caller(request) is None:
        return HTMLResponse("", status_code=401)
    status_id = _status_id(request)
    shown = await api(request, "GET", "/api/v1/statuses/{id}", path={"id": status_id or "0"})
    if status_id is None or not shown.ok:
        return HTMLResponse("", status_code=404)
    return render_fragment(request, "fragment_status.html", post=shown.data)


async def vote(request: Request) -> Response:
    await viewer(request)
    form = await checked_form(request)
    poll_id = str(request.path_params["poll_id"])
    choices = [str(c) for c in form.getlist("choice") if str(c).isdigit()]
    if poll_id.isdigit() and len(poll_id) <= 19:
        answer = await api(
            request,
            "POST",
            "/api/v1/polls/{id}/votes",
            path={"id": poll_id},
            body={"choices": choices},
        )
        if not answer.ok:
            flash(request, answer.error)
    return back(form)


routes: list[BaseRoute] = [
    Route("/polls/{poll_id}/votes", vote, methods=["POST"]),
    Route("/statuses", compose, methods=["POST"]),
    Route("/web/statuses/{status_id}", fragment, methods=["GET"]),
    Route("/web/preview", preview_fragment, methods=["POST"]),
    Route("/@{acct}/{status_id}/{action}", act, methods=["POST"]),
]
