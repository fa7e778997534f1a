"""The node's own emoji that a local post or profile uses, for the documents sent out."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from models import emoji as stored
from models.account import Account
from models.emoji import CustomEmoji
from models.poll import Poll
from models.status import Status
from outbox.emoji_catalogue import shortcodes_in


async def of_status(session: AsyncSession, status: Status, poll: Poll | None) -> list[CustomEmoji]:
    options = poll.options if poll is not None else []
    codes = shortcodes_in(status.content, status.spoiler_text, *options)
    return await stored.usable_for(session, stored.LOCAL, codes)


async def of_account(session: AsyncSession, account: Account) -> list[CustomEmoji]:
    fields = [str(f.get(k, "")) for f in account.fields for k in ("name", "value")]
    codes = shortcodes_in(account.display_name, account.note, *fields)
    return await stored.usable_for(session, stored.LOCAL, codes)
