"""The node's confidentiality reminder ("no unreleased products, no financial results, no
statements about customers"): set by those with `manage_compliance`, shown in the web composer
and given to apps in /api/v1/instance, /api/v2/instance and the usage policy answer."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from models import admin
from outbox.permissions import AdminError, Operator, require

KEY = "confidentiality_reminder"
MAX_REMINDER_CHARS = 2000


async def reminder(session: AsyncSession) -> str:
    return (await admin.node_settings(session)).get(KEY, "")


async def set_reminder(session: AsyncSession, operator: Operator, text: str) -> bool:
    """Set (an empty text clears) the reminder; False when it was that already."""
    require(operator, "manage_compliance")
    text = text.strip()
    if len(text) > MAX_REMINDER_CHARS:
        raise AdminError(f"The reminder is longer than {MAX_REMINDER_CHARS} characters")
    if "\x00" in text:
        raise AdminError("The reminder must not contain NUL characters")
    if text == await reminder(session):
        return False
    await admin.set_node_setting(session, KEY, text)
    admin.record(
        session,
        operator.name,
        "compliance.reminder" if text else "compliance.reminder_clear",
        KEY,
        text,
        operator_account_id=operator.account_id,
    )
    return True
