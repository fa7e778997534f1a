"""Web Push subscriptions (`/api/v1/push/subscription`): one per access token, as Mastodon."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from models.push import PUSH_ALERTS, PUSH_POLICIES, PushSubscription
from models.settings import Settings
from outbox import push_subscriptions
from outbox.push_subscriptions import PushProblem, Wanted, alerts_text
from web.api.base import Call, bearer_token, call, ok
from web.api.errors import not_found, validation
from web.api.params import Params

SCOPE = "push"


def subscription_json(row: PushSubscription, settings: Settings) -> dict[str, Any]:
    chosen = set(row.alerts.split(","))
    return {
        "id": str(row.id),
        "endpoint": row.endpoint,
        "standard": row.standard,
        "alerts": {alert: alert in chosen for alert in PUSH_ALERTS},
        "policy": row.policy,
        "server_key": push_subscriptions.vapid_key(settings).public_key,
    }


def _alerts(data: Params, current: frozenset[str]) -> frozenset[str]:
    """`data[alerts][TYPE]` flags; types left out keep what they were (false when new)."""
    given = data.sub("alerts")
    chosen = set(current)
    for alert in PUSH_ALERTS:
        if alert in given:
            if given.flag(alert):
                chosen.add(alert)
            else:
                chosen.discard(alert)
    return frozenset(chosen)


def _policy(params: Params, current: str) -> str:
    """`data[policy]` as Mastodon documents it, or a top-level `policy` (Mastodon.py)."""
    given = params.sub("data").text("policy") or params.text("policy")
    return (given or current).strip().lower()


def _required(params: Params, name: str) -> str:
    value = (params.text(name, max_length=2048) or "").strip()
    if not value:
        raise validation(f"subscription[{name.rpartition('.')[2]}] is required")
    return value


async def create(request: Request) -> Response:
    c = await call(request, SCOPE)
    subscription = c.params.sub("subscription")
    keys = subscription.sub("keys")
    data = c.params.sub("data")
    wanted = Wanted(
        endpoint=_required(subscription, "endpoint"),
        p256dh=_required(keys, "p256dh"),
        auth=_required(keys, "auth"),
        standard=subscription.flag("standard"),
        alerts=_alerts(data, frozenset()),
        policy=_policy(c.params, "all"),
    )
    assert c.caller is not None
    async with c.node.db.write() as session:
        try:
            row = await push_subscriptions.subscribe(
                session,
                c.node.settings,
                token_id=c.caller.token.id,
                token=bearer_token(request) or "",
                account_id=c.account.id,
                wanted=wanted,
            )
        except PushProblem as exc:
            raise validation(str(exc)) from None
        return ok(subscription_json(row, c.node.settings))


async def _own(c: Call, session: Any) -> PushSubscription:
    assert c.caller is not None
    row = await push_subscriptions.of_token(session, c.caller.token.id)
    if row is None:
        raise not_found()
    return row


async def show(request: Request) -> Response:
    c = await call(request, SCOPE)
    async with c.node.db.read() as session:
        return ok(subscription_json(await _own(c, session), c.node.settings))


async def change(request: Request) -> Response:
    c = await call(request, SCOPE)
    data = c.params.sub("data")
    async with c.node.db.write() as session:
        row = await _own(c, session)
        policy = _policy(c.params, row.policy)
        if policy not in PUSH_POLICIES:
            raise validation(f"policy must be one of {', '.join(PUSH_POLICIES)}")
        row.alerts = alerts_text(_alerts(data, frozenset(row.alerts.split(","))))
        row.policy = policy
        return ok(subscription_json(row, c.node.settings))


async def remove(request: Request) -> Response:
    c = await call(request, SCOPE)
    assert c.caller is not None
    async with c.node.db.write() as session:
        await push_subscriptions.unsubscribe(session, c.caller.token.id)
    return ok({})


routes: list[BaseRoute] = [
    Route("/api/v1/push/subscription", create, methods=["POST"]),
    Route("/api/v1/push/subscription", show, methods=["GET"]),
    Route("/api/v1/push/subscription", change, methods=["PUT"]),
    Route("/api/v1/push/subscription", remove, methods=["DELETE"]),
]
