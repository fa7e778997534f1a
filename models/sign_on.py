"""Which company identity signs in as which local account (single sign-on, web/oidc.py).

An identity is the provider's `(issuer, sub)` pair, stable where user names and e-mail
addresses are not; it is linked to one account on the first sign-in and found by it after.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAt


class SignOnIdentity(CreatedAt, Base):
    __tablename__ = "sign_on_identities"

    issuer: Mapped[str] = mapped_column(String(255), primary_key=True)
    subject: Mapped[str] = mapped_column(String(255), primary_key=True)
    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False, index=True
    )
