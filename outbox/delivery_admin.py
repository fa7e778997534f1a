"""What admins do to deliveries: retry one that failed for good. Used by the admin page and
the admin API alike, with the same refusal and the same audit entry."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from models import admin
from models.federation import Delivery
from outbox.deliveries import retry_failed
from outbox.permissions import Operator, require


async def retry(session: AsyncSession, operator: Operator, delivery_id: int) -> Delivery | None:
    """Queue the failed delivery again, due now; None when no failed delivery has that id."""
    require(operator, "manage_node")
    row = await retry_failed(session, delivery_id)
    if row is not None:
        admin.record(
            session,
            operator.name,
            "delivery.retry",
            row.host,
            row.inbox_url,
            operator_account_id=operator.account_id,
        )
    return row
