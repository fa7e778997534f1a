"""ActivityPub over HTTP: actors, inboxes, collections and objects.

Every GET here needs a valid signature from an allowed node (authorized fetch) — except the
instance actor, whose key others must be able to fetch to verify our own signed fetches.
Browsers asking for HTML are sent to the web page instead.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from federation import values
from federation.values import InvalidValue
from inbox.receive import MAX_BODY, Verdict, check_signature, receive
from models.account import Account
from models.emoji import LOCAL, CustomEmoji
from models.interaction import Pin
from models.relationship import Follow
from models.status import Status
from outbox import emoji_use, groups, relationship_activities, render
from outbox.context import Federation
from outbox.emoji_catalogue import as_tag
from outbox.note_documents import boost_document, note_document
from web.api.base import JSONResponse
from web.node import node_of

AS_TYPES = ("application/activity+json", "application/ld+json")
PAGE = 20


class ActivityResponse(Response):
    media_type = "application/activity+json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def wants_activity(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return any(t in accept for t in AS_TYPES)


def federation_of(request: Request) -> Federation:
    fed = node_of(request).federation
    assert fed is not None
    return fed


def error(verdict: Verdict) -> Response:
    return JSONResponse({"error": verdict.error or "rejected"}, status_code=verdict.status)


async def authorized(request: Request) -> Verdict:
    """Authorized fetch: a GET must carry a valid signature from an allowed node."""
    _, verdict = await signed_by(request)
    return verdict


async def signed_by(request: Request) -> tuple[str, Verdict]:
    """(the signer's host[:port], the verdict) of an authorized fetch."""
    fed = federation_of(request)
    return await check_signature(
        fed,
        "GET",
        fed.settings.url(request.url.path) + ("?" + request.url.query if request.url.query else ""),
        {k.lower(): v for k, v in request.headers.items()},
        None,
    )


async def local_account(request: Request) -> Account | None:
    async with node_of(request).db.read() as session:
        return (
            await session.execute(
                select(Account).where(
                    func.lower(Account.username) == request.path_params["username"].lower(),
                    Account.domain.is_(None),
                    Account.suspended_at.is_(None),
                )
            )
        ).scalar_one_or_none()


async def fetchable_account(request: Request) -> Account | Response:
    """The local account a signed GET asks about, or the error answer to give instead."""
    verdict = await authorized(request)
    if verdict.status != 202:
        return error(verdict)
    account = await local_account(request)
    if account is None:
        return JSONResponse({"error": "Record not found"}, status_code=404)
    return account


async def actor(request: Request) -> Response:
    if not wants_activity(request):
        return RedirectResponse(
            node_of(request).settings.url(f"/@{request.path_params['username']}"), status_code=302
        )
    account = await fetchable_account(request)
    if isinstance(account, Response):
        return account
    async with node_of(request).db.read() as session:
        emojis = await emoji_use.of_account(session, account)
        members_only = await relationship_activities.group_members_only(session, account)
    settings = node_of(request).settings
    return ActivityResponse(render.person(settings, account, emojis, members_only=members_only))


async def instance_actor(request: Request) -> Response:
    fed = federation_of(request)
    public_pem = fed.instance_public_pem
    return ActivityResponse(render.instance_actor(fed.settings, public_pem))


async def inbox(request: Request) -> Response:
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > MAX_BODY:
        return JSONResponse({"error": "the activity is too large"}, status_code=413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return JSONResponse({"error": "the activity is too large"}, status_code=413)
    fed = federation_of(request)
    if "username" in request.path_params and await local_account(request) is None:
        return JSONResponse({"error": "Record not found"}, status_code=404)
    verdict = await receive(
        fed,
        fed.settings.url(request.url.path),
        {k.lower(): v for k, v in request.headers.items()},
        bytes(body),
    )
    if verdict.status != 202:
        return error(verdict)
    if verdict.stored_id is not None:
        fed.wake_inbox()
    return Response(status_code=202)


async def collection_of(request: Request, kind: str) -> Response:
    account = await fetchable_account(request)
    if isinstance(account, Response):
        return account
    settings = node_of(request).settings
    uri = render.actor_uri(settings, account) + "/" + kind
    async with node_of(request).db.read() as session:
        mine, theirs = (
            (Follow.target_account_id, Follow.account_id)
            if kind == "followers"
            else (Follow.account_id, Follow.target_account_id)
        )
        rows = (
            await session.execute(
                select(Account.uri, Account.username)
                .join(Follow, theirs == Account.id)
                .where(mine == account.id)
                .order_by(Follow.id.desc())
                .limit(200)
            )
        ).all()
    items = [u or settings.url(f"/users/{name}") for u, name in rows]
    total = account.followers_count if kind == "followers" else account.following_count
    return ActivityResponse(render.collection(uri, total, items=items))


async def followers(request: Request) -> Response:
    return await collection_of(request, "followers")


async def following(request: Request) -> Response:
    return await collection_of(request, "following")


async def outbox_collection(request: Request) -> Response:
    account = await fetchable_account(request)
    if isinstance(account, Response):
        return account
    settings = node_of(request).settings
    uri = render.actor_uri(settings, account) + "/outbox"
    async with node_of(request).db.read() as session:
        statuses = (
            (
                await session.execute(
                    select(Status)
                    .where(
                        Status.account_id == account.id,
                        Status.visibility.in_(("public", "unlisted")),
                    )
                    .order_by(Status.id.desc())
                    .limit(PAGE)
                )
            )
            .scalars()
            .all()
        )
        items = []
        for status in statuses:
            if status.reblog_of_id is not None:
                items.append(await boost_document(session, settings, status))
            else:
                items.append(render.create(await note_document(session, settings, status)))
    items = [{k: v for k, v in i.items() if k != "@context"} for i in items]
    return ActivityResponse(render.collection(uri, account.statuses_count, items=items))


async def featured(request: Request) -> Response:
    account = await fetchable_account(request)
    if isinstance(account, Response):
        return account
    settings = node_of(request).settings
    async with node_of(request).db.read() as session:
        pinned = (
            (
                await session.execute(
                    select(Status)
                    .join(Pin, Pin.status_id == Status.id)
                    .where(
                        Pin.account_id == account.id, Status.visibility.in_(("public", "unlisted"))
                    )
                    .order_by(Pin.id.desc())
                )
            )
            .scalars()
            .all()
        )
        notes = [await note_document(session, settings, s) for s in pinned]
    uri = render.actor_uri(settings, account) + "/collections/featured"
    return ActivityResponse(render.collection(uri, len(notes), items=notes))


async def status_object(request: Request) -> Response:
    settings = node_of(request).settings
    if not wants_activity(request):
        return RedirectResponse(
            settings.url(f"/@{request.path_params['username']}/{request.path_params['status_id']}"),
            status_code=302,
        )
    signer, verdict = await signed_by(request)
    if verdict.status != 202:
        return error(verdict)
    account = await local_account(request)
    try:
        status_id = values.row_id(request.path_params["status_id"])
    except InvalidValue:
        account = None
    if account is None:
        return JSONResponse({"error": "Record not found"}, status_code=404)
    async with node_of(request).db.read() as session:
        status = await session.get(Status, status_id)
        # What anyone on an allowed node may read (public and unlisted posts), and a
        # members-only group's post for the nodes of its members (a post they missed).
        if (
            status is None
            or status.account_id != account.id
            or status.reblog_of_id
            or (
                status.visibility not in ("public", "unlisted")
                and not await groups.node_may_fetch(session, status, signer)
            )
        ):
            return JSONResponse({"error": "Record not found"}, status_code=404)
        note = await note_document(session, settings, status)
    if request.url.path.endswith("/activity"):
        return ActivityResponse(render.create(note))
    return ActivityResponse(render.with_context(note))


async def emoji_object(request: Request) -> Response:
    """One of this node's emoji as the `Emoji` object its tags name by id."""
    verdict = await authorized(request)
    if verdict.status != 202:
        return error(verdict)
    try:
        emoji_id = values.row_id(request.path_params["emoji_id"])
    except InvalidValue:
        return JSONResponse({"error": "Record not found"}, status_code=404)
    async with node_of(request).db.read() as session:
        emoji = await session.get(CustomEmoji, emoji_id)
    if emoji is None or emoji.domain != LOCAL or not emoji.image_path:
        return JSONResponse({"error": "Record not found"}, status_code=404)
    return ActivityResponse(render.with_context(as_tag(node_of(request).settings, emoji)))


routes = [
    Route("/actor", instance_actor),
    Route("/emojis/{emoji_id}", emoji_object),
    Route("/actor/inbox", inbox, methods=["POST"]),
    Route("/inbox", inbox, methods=["POST"]),
    Route("/users/{username}", actor),
    Route("/users/{username}/inbox", inbox, methods=["POST"]),
    Route("/users/{username}/outbox", outbox_collection),
    Route("/users/{username}/followers", followers),
    Route("/users/{username}/following", following),
    Route("/users/{username}/collections/featured", featured),
    Route("/users/{username}/statuses/{status_id}", status_object),
    Route("/users/{username}/statuses/{status_id}/activity", status_object),
]
