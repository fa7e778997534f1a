"""The apps a user has let use their account, and taking that access back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import utcnow
from models.oauth import AccessToken, OAuthApp
from outbox import events


@dataclass(frozen=True)
class AppAccess:
    app_id: int
    name: str
    website: str | None
    scopes: str
    since: datetime


async def apps_with_access(
    session: AsyncSession, account_id: int, leave_out: str
) -> list[AppAccess]:
    """Apps holding a live token of the account (but `leave_out`, the node's own pages)."""
    rows = await session.execute(
        select(
            OAuthApp.id,
            OAuthApp.name,
            OAuthApp.website,
            func.max(AccessToken.scopes),
            func.min(AccessToken.created_at),
        )
        .join(AccessToken, AccessToken.app_id == OAuthApp.id)
        .where(
            AccessToken.account_id == account_id,
            AccessToken.revoked_at.is_(None),
            OAuthApp.name != leave_out,
        )
        .group_by(OAuthApp.id, OAuthApp.name, OAuthApp.website)
        .order_by(OAuthApp.name)
    )
    return [AppAccess(*row) for row in rows.tuples()]


async def revoke_app(session: AsyncSession, account_id: int, app_id: int) -> None:
    """Every token the app holds for the account stops working; its streams end."""
    revoked = await session.execute(
        update(AccessToken)
        .where(
            AccessToken.account_id == account_id,
            AccessToken.app_id == app_id,
            AccessToken.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
        .returning(AccessToken.id)
    )
    for token_id in revoked.scalars():
        events.token_revoked(session, token_id)
