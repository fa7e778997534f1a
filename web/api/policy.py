"""The usage policy through the API: read the current version (and whether the caller has
accepted it), accept it, and publish a new version (`manage_policy`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from federation import values
from federation.values import InvalidValue
from models import policy as stored
from outbox import policy
from outbox import reminder as confidentiality
from outbox.permissions import MissingPermission
from outbox.policy import MAX_POLICY_CHARS
from outbox.user_admin import AdminError
from web.api import roles as roles_api
from web.api.base import Call, call, ok
from web.api.errors import ApiError, not_found, validation
from web.api.serializers.entities import iso


async def _answer(c: Call) -> Response:
    async with c.node.db.read() as session:
        current = await stored.current(session)
        if current is None:
            raise not_found()
        reminder = await confidentiality.reminder(session)
        at = None
        if c.caller is not None and c.caller.account is not None:
            at = await stored.accepted_at(session, c.caller.account.id, current.version)
    return ok(
        {
            "version": current.version,
            "text": current.text,
            "published_at": iso(current.published_at),
            "accepted": at is not None,
            "accepted_at": iso(at),
            # What the compliance team asks everyone to keep in mind when posting.
            "confidentiality_reminder": reminder or None,
        }
    )


async def show(request: Request) -> Response:
    if request.method == "PUT":
        return await publish(request)
    return await _answer(await call(request, "read", optional=True))


async def publish(request: Request) -> Response:
    c = await call(request, "write")
    operator = await roles_api.operator(c)
    if not operator.may("manage_policy"):
        raise roles_api.refused(MissingPermission("manage_policy"))
    text = c.params.text("text", max_length=MAX_POLICY_CHARS)
    if text is None:
        raise validation("text is missing")
    try:
        async with c.node.db.write() as session:
            await policy.publish(session, operator, text)
    except AdminError as exc:
        raise roles_api.refused(exc) from None
    return await _answer(c)


async def accept(request: Request) -> Response:
    c = await call(request, "write:accounts")
    try:
        version = values.integer(c.params.raw("version"), "version", minimum=1, maximum=2**31 - 1)
    except InvalidValue as exc:
        raise validation(str(exc)) from None
    try:
        async with c.node.db.write() as session:
            await policy.accept(session, c.account.id, version)
    except AdminError as exc:
        raise ApiError(422, f"Validation failed: {exc}") from None
    return await _answer(c)


routes: list[BaseRoute] = [
    Route("/api/v1/flurfunk/policy", show, methods=["GET", "PUT"]),
    Route("/api/v1/flurfunk/policy/accept", accept, methods=["POST"]),
]
