"""What a reader has done with their direct conversations: read up to where, hidden up to where.

A conversation is the thread of direct statuses a reader takes part in (as author or as one
mentioned); its id is the thread's root status id. Which statuses belong to it follows from the
statuses themselves, so nothing is written when a message arrives: a conversation is unread
while it holds a status from someone else newer than `read_up_to`, and hidden (deleted by the
reader) while its newest status is not newer than `hidden_up_to` — a new message brings it
back, as on Mastodon.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class ConversationMark(Base):
    __tablename__ = "conversation_marks"

    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    thread_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    read_up_to: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    hidden_up_to: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
