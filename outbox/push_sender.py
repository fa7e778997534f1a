"""The push worker: claim due push rows, encrypt the notification for the phone, POST it to
the push service through the outbound chokepoint (with the PUSH_HOSTS allowlist), record.

Outcomes as for deliveries, with two differences a phone needs: 404 or 410 means the app
dropped its subscription, which is deleted with its rows; a certificate that does not verify
is retried (the push service may be mid-rotation), and a push older than its TTL is given up.
"""

from __future__ import annotations

import logging
import re
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import unescape
from typing import Any

import httpx
import orjson
from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from federation.client import FederationClient, NotAllowed, ResponseTooLarge
from federation.webpush import TTL, VapidKey, encrypt, request_headers
from models.account import Account, User
from models.base import utcnow
from models.db import Database
from models.notification import Notification
from models.push import PushJob, PushSubscription
from models.settings import Settings
from models.status import Status
from outbox.push_subscriptions import unseal_token
from outbox.retry import backoff, retry_after, retryable_status

log = logging.getLogger("flurfunk.push")
LEASE = timedelta(minutes=2)
HORIZON = timedelta(seconds=TTL)
BODY_CHARS = 140
_TAG = re.compile(r"<[^>]*>")
_BREAK = re.compile(r"<br\s*/?>|</p>\s*<p>", re.IGNORECASE)

TITLES = {
    "mention": "{name} mentioned you",
    "status": "{name} just posted",
    "reblog": "{name} boosted your post",
    "follow": "{name} is now following you",
    "follow_request": "{name} has requested to follow you",
    "favourite": "{name} favourited your post",
    "poll": "A poll you took part in has ended",
    "update": "{name} edited a post",
    "admin.sign_up": "{name} signed up",
    "admin.report": "{name} filed a report",
}


@dataclass
class PushAttempt:
    id: int
    subscription_id: int
    endpoint: str
    created_at: datetime
    attempts: int
    body: bytes
    headers: dict[str, str]


def plain_text(html: str) -> str:
    return unescape(_TAG.sub("", _BREAK.sub("\n", html))).strip()


def _shortened(text: str) -> str:
    return text if len(text) <= BODY_CHARS else text[: BODY_CHARS - 1].rstrip() + "…"


def _icon(settings: Settings, actor: Account) -> str:
    if actor.avatar_path:
        return settings.url("/media/" + actor.avatar_path)
    return settings.url("/static/avatar.png")


def payload(
    settings: Settings,
    notification: Notification,
    actor: Account,
    status: Status | None,
    *,
    token: str,
    locale: str,
) -> dict[str, Any]:
    """What Mastodon's apps expect to find in the decrypted message."""
    name = actor.display_name or actor.username
    if status is not None:
        body = status.spoiler_text or plain_text(status.content)
    elif notification.type in ("follow", "follow_request"):
        body = plain_text(actor.note or "")
    else:
        body = ""
    return {
        "access_token": token,
        "preferred_locale": locale,
        "notification_id": str(notification.id),
        "notification_type": notification.type,
        "icon": _icon(settings, actor),
        "title": TITLES.get(notification.type, "{name}").format(name=name),
        "body": _shortened(body),
    }


def _due(now: datetime) -> Any:
    return and_(
        PushJob.state == "pending",
        PushJob.next_attempt_at <= now,
        or_(PushJob.locked_until.is_(None), PushJob.locked_until < now),
    )


class PushSender:
    def __init__(
        self,
        db: Database,
        client: FederationClient,
        settings: Settings,
        vapid: VapidKey,
        *,
        batch: int = 50,
    ) -> None:
        self.db = db
        self.client = client
        self.settings = settings
        self.vapid = vapid
        self.batch = batch
        https = settings.public_url.startswith("https://")
        self.subject = settings.public_url if https else f"mailto:push@{_host(settings)}"

    async def claim(self, now: datetime) -> list[PushAttempt]:
        async with self.db.write() as session:
            due = (
                select(PushJob.id)
                .where(_due(now))
                .order_by(PushJob.next_attempt_at)
                .limit(self.batch)
                .with_for_update(skip_locked=True)
            )
            # Claimed in one statement, as deliveries are: two processes never take one row.
            ids = list(
                (
                    await session.scalars(
                        update(PushJob)
                        .where(PushJob.id.in_(due))
                        .values(locked_until=now + LEASE)
                        .returning(PushJob.id)
                        .execution_options(synchronize_session=False)
                    )
                ).all()
            )
            if not ids:
                return []
            rows = (
                await session.execute(
                    select(PushJob, PushSubscription, Notification, Account)
                    .join(PushSubscription, PushSubscription.id == PushJob.subscription_id)
                    .join(Notification, Notification.id == PushJob.notification_id)
                    .join(Account, Account.id == Notification.from_account_id)
                    .where(PushJob.id.in_(ids))
                )
            ).all()
            return [await self._prepare(session, *row) for row in rows]

    async def _prepare(
        self,
        session: AsyncSession,
        job: PushJob,
        subscription: PushSubscription,
        notification: Notification,
        actor: Account,
    ) -> PushAttempt:
        status = (
            await session.get(Status, notification.status_id) if notification.status_id else None
        )
        locale = await session.scalar(
            select(User.locale).where(User.account_id == subscription.account_id)
        )
        message = payload(
            self.settings,
            notification,
            actor,
            status,
            token=unseal_token(self.settings, subscription.sealed_token),
            locale=locale or "en",
        )
        encrypted = encrypt(
            orjson.dumps(message),
            subscription.p256dh,
            subscription.auth,
            standard=subscription.standard,
        )
        headers = request_headers(
            encrypted,
            self.vapid,
            subscription.endpoint,
            self.subject,
            standard=subscription.standard,
        )
        return PushAttempt(
            job.id,
            subscription.id,
            subscription.endpoint,
            job.created_at,
            job.attempts,
            encrypted.body,
            headers,
        )

    async def send(self, attempt: PushAttempt) -> tuple[int | None, str | None, float | None]:
        """(HTTP status, error, seconds to wait before retrying as the service asked)."""
        try:
            fetched = await self.client.request(
                "POST",
                attempt.endpoint,
                content=attempt.body,
                headers=attempt.headers,
                max_body=64 << 10,
            )
        except NotAllowed as exc:
            return None, f"not allowed: {exc}", None
        except (httpx.HTTPError, ssl.SSLError, ResponseTooLarge, OSError) as exc:
            return None, f"{type(exc).__name__}: {exc}", None
        if 200 <= fetched.status < 300:
            return fetched.status, None, None
        wait = retry_after(fetched.headers.get("retry-after"), utcnow())
        return fetched.status, f"HTTP {fetched.status}", wait

    async def step(self) -> int:
        """Send one batch of due pushes; returns how many rows were claimed."""
        attempts = await self.claim(utcnow())
        for attempt in attempts:
            status, error, wait = await self.send(attempt)
            await self._record(attempt, status, error, wait)
        return len(attempts)

    async def _record(
        self, attempt: PushAttempt, status: int | None, error: str | None, wait: float | None
    ) -> None:
        now = utcnow()
        async with self.db.write() as session:
            if status in (404, 410):
                # The app or the push service dropped the subscription: so do we.
                await session.execute(
                    delete(PushSubscription).where(PushSubscription.id == attempt.subscription_id)
                )
                log.info("push subscription %s gone (%s)", attempt.subscription_id, status)
                return
            values: dict[str, Any] = {
                "attempts": attempt.attempts + 1,
                "locked_until": None,
                "last_status": status,
                "last_error": (error or "")[:1000] or None,
            }
            if status is not None and 200 <= status < 300:
                # A sent push is of no further interest: its row goes, so rows do not pile up.
                await session.execute(delete(PushJob).where(PushJob.id == attempt.id))
                return
            if _gives_up(status, error, attempt.created_at, now):
                values.update(state="failed", done_at=now)
                log.info("push %s to %s failed: %s", attempt.id, attempt.endpoint, error)
            else:
                delay = wait if wait is not None else backoff(attempt.attempts + 1)
                values["next_attempt_at"] = now + timedelta(seconds=delay)
                log.info("push %s to %s: %s, retried", attempt.id, attempt.endpoint, error)
            await session.execute(update(PushJob).where(PushJob.id == attempt.id).values(values))


def _gives_up(status: int | None, error: str | None, created: datetime, now: datetime) -> bool:
    if now - created >= HORIZON:
        return True
    if error and error.startswith("not allowed"):
        return True  # PUSH_HOSTS no longer admits the endpoint
    return status is not None and not retryable_status(status)


def _host(settings: Settings) -> str:
    return settings.domain.partition(":")[0]
