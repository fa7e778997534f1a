"""Push subscriptions of access tokens, and the push rows a new notification queues.

A subscription to a host outside FLURFUNK_PUSH_HOSTS is refused when it is made, so that an
app learns at once that push will not work here; the outbound client refuses it again.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from federation.allowlist import Allowlist, PatternError
from federation.webpush import (
    BadSubscriptionKeys,
    VapidKey,
    check_subscription_keys,
    load_or_create_vapid_key,
)
from models.base import utcnow
from models.notification import Notification
from models.oauth import AccessToken
from models.push import PUSH_ALERTS, PUSH_POLICIES, PushJob, PushSubscription
from models.relationship import Follow
from models.settings import Settings


class PushProblem(ValueError):
    """A subscription that cannot be stored; the message says why (answered with 422)."""


@dataclass(frozen=True)
class Wanted:
    """What an app asks for: where to push, how to encrypt, and which notifications."""

    endpoint: str
    p256dh: str
    auth: str
    standard: bool
    alerts: frozenset[str]
    policy: str


VAPID_KEY_FILE = "vapid_private_key.pem"


@lru_cache(maxsize=8)
def _vapid_key_in(data_dir: Path) -> VapidKey:
    return load_or_create_vapid_key(data_dir / VAPID_KEY_FILE)


def vapid_key(settings: Settings) -> VapidKey:
    """The node's VAPID key, generated into DATA_DIR when a node first starts (or first
    needs it) and read once per process after that."""
    return _vapid_key_in(settings.data_dir.resolve())


def push_hosts(settings: Settings) -> Allowlist:
    return Allowlist(settings.push_hosts)


def check_endpoint(settings: Settings, endpoint: str) -> None:
    parts = urlsplit(endpoint)
    schemes = ("https", "http") if settings.public_url.startswith("http://") else ("https",)
    if parts.scheme not in schemes or not parts.hostname:
        raise PushProblem("the push endpoint must be an https URL")
    try:
        allowed = push_hosts(settings).allows_url(endpoint)
    except PatternError:
        allowed = False
    if not allowed:
        raise PushProblem(f"push to {parts.netloc} is not allowed on this node (PUSH_HOSTS)")


def check_wanted(settings: Settings, wanted: Wanted) -> None:
    check_endpoint(settings, wanted.endpoint)
    try:
        check_subscription_keys(wanted.p256dh, wanted.auth)
    except BadSubscriptionKeys as exc:
        raise PushProblem(str(exc)) from None
    if wanted.policy not in PUSH_POLICIES:
        raise PushProblem(f"policy must be one of {', '.join(PUSH_POLICIES)}")


def alerts_text(alerts: frozenset[str]) -> str:
    return ",".join(a for a in PUSH_ALERTS if a in alerts)


def _token_key(settings: Settings) -> bytes:
    return hashlib.sha256(b"flurfunk push token\0" + settings.secret_key.encode()).digest()


def seal_token(settings: Settings, token: str) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(_token_key(settings)).encrypt(nonce, token.encode(), None)
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal_token(settings: Settings, sealed: str) -> str:
    """The bearer token for the payload; "" when SECRET_KEY changed since it was sealed."""
    raw = base64.urlsafe_b64decode(sealed)
    try:
        return AESGCM(_token_key(settings)).decrypt(raw[:12], raw[12:], None).decode()
    except InvalidTag:
        return ""


async def subscribe(
    session: AsyncSession,
    settings: Settings,
    *,
    token_id: int,
    token: str,
    account_id: int,
    wanted: Wanted,
) -> PushSubscription:
    """Replace the token's subscription (one per token, as in Mastodon)."""
    check_wanted(settings, wanted)
    await session.execute(
        delete(PushSubscription).where(PushSubscription.access_token_id == token_id)
    )
    row = PushSubscription(
        access_token_id=token_id,
        account_id=account_id,
        endpoint=wanted.endpoint,
        p256dh=wanted.p256dh,
        auth=wanted.auth,
        standard=wanted.standard,
        alerts=alerts_text(wanted.alerts),
        policy=wanted.policy,
        sealed_token=seal_token(settings, token),
    )
    session.add(row)
    await session.flush()
    return row


async def of_token(session: AsyncSession, token_id: int) -> PushSubscription | None:
    found: PushSubscription | None = await session.scalar(
        select(PushSubscription).where(PushSubscription.access_token_id == token_id)
    )
    return found


async def unsubscribe(session: AsyncSession, token_id: int) -> None:
    await session.execute(
        delete(PushSubscription).where(PushSubscription.access_token_id == token_id)
    )


def _policy_admits(policy: str, follows_actor: bool, followed_by_actor: bool) -> bool:
    if policy == "all":
        return True
    if policy == "followed":
        return follows_actor
    if policy == "follower":
        return followed_by_actor
    return False


async def queue_pushes(session: AsyncSession, notification: Notification) -> None:
    """A push row for every subscription of the recipient that wants this notification;
    written in the notification's transaction, so a push is never lost nor sent for a
    notification that was rolled back."""
    subscriptions = (
        await session.scalars(
            select(PushSubscription)
            .join(AccessToken, AccessToken.id == PushSubscription.access_token_id)
            # A revoked token's app was signed out: its phone hears nothing more.
            .where(
                PushSubscription.account_id == notification.account_id,
                AccessToken.revoked_at.is_(None),
            )
        )
    ).all()
    wanted = [s for s in subscriptions if notification.type in s.alerts.split(",")]
    if not wanted:
        return
    follows_actor = bool(
        await session.scalar(
            select(
                exists().where(
                    Follow.account_id == notification.account_id,
                    Follow.target_account_id == notification.from_account_id,
                )
            )
        )
    )
    followed_by_actor = bool(
        await session.scalar(
            select(
                exists().where(
                    Follow.account_id == notification.from_account_id,
                    Follow.target_account_id == notification.account_id,
                )
            )
        )
    )
    now = utcnow()
    for subscription in wanted:
        if _policy_admits(subscription.policy, follows_actor, followed_by_actor):
            session.add(
                PushJob(
                    subscription_id=subscription.id,
                    notification_id=notification.id,
                    next_attempt_at=now,
                )
            )
    await session.flush()
