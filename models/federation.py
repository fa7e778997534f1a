"""Federation state: the allowlist and its audit log, activities in and out, delivery rows,
and the health of peer hosts. Rows are the truth; queues only run them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAt, TimeOrderedId, UTCDateTime


class AllowlistEntry(TimeOrderedId, CreatedAt, Base):
    """A domain pattern this node may federate with (see federation.allowlist)."""

    __tablename__ = "allowlist"

    pattern: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    added_by: Mapped[str] = mapped_column(String(255), nullable=False)


class AllowlistAudit(TimeOrderedId, CreatedAt, Base):
    """Who changed the allowlist, when, and how: `seed`, `add` or `remove`."""

    __tablename__ = "allowlist_audit"

    action: Mapped[str] = mapped_column(String(16), nullable=False)
    pattern: Mapped[str] = mapped_column(String(255), nullable=False)
    actor: Mapped[str] = mapped_column(String(255), nullable=False)


class InboxActivity(TimeOrderedId, Base):
    """An activity received from another node: stored before the 202, processed after."""

    __tablename__ = "inbox_activities"
    __table_args__ = (
        Index("ix_inbox_activities_due", "processed_at", "next_attempt_at"),
        Index(
            "ix_inbox_activities_claimed_by",
            "claimed_by",
            postgresql_where=text("claimed_by IS NOT NULL"),
            sqlite_where=text("claimed_by IS NOT NULL"),
        ),
    )

    activity_uri: Mapped[str] = mapped_column(String(1024), unique=True, nullable=False)
    actor_uri: Mapped[str] = mapped_column(String(1024), nullable=False)
    type: Mapped[str] = mapped_column(String(64), nullable=False)
    payload: Mapped[str] = mapped_column(Text, nullable=False)  # the JSON as received
    signer_host: Mapped[str] = mapped_column(String(255), nullable=False)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(96))  # a WorkerHeartbeat.owner
    error: Mapped[str | None] = mapped_column(Text)
    failed: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)


class OutboxActivity(TimeOrderedId, CreatedAt, Base):
    """An activity a local actor sent; its JSON is signed and POSTed by each delivery row."""

    __tablename__ = "outbox_activities"

    # Not unique: the same activity may be sent again (an Accept for a repeated Follow).
    uri: Mapped[str] = mapped_column(String(1024), nullable=False, index=True)
    # None: the node's instance actor sent it (a forwarded report), signed with its key.
    account_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(String(64), nullable=False)
    payload: Mapped[str] = mapped_column(Text, nullable=False)
    status_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    public: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)


class Delivery(TimeOrderedId, CreatedAt, Base):
    """One activity to one inbox. `state`: pending, done or failed."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_due", "state", "next_attempt_at"),
        Index("ix_deliveries_host_state", "host", "state"),
        # Only rows in flight: finding what a dead worker held reads a handful of entries.
        Index(
            "ix_deliveries_claimed_by",
            "claimed_by",
            postgresql_where=text("claimed_by IS NOT NULL"),
            sqlite_where=text("claimed_by IS NOT NULL"),
        ),
    )

    activity_id: Mapped[int] = mapped_column(
        BigInteger,
        ForeignKey("outbox_activities.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )
    inbox_url: Mapped[str] = mapped_column(String(1024), nullable=False)
    host: Mapped[str] = mapped_column(String(255), nullable=False)
    state: Mapped[str] = mapped_column(String(16), default="pending", nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(96))  # a WorkerHeartbeat.owner
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WorkerHeartbeat(Base):
    """A process that claims delivery and inbox rows, and when it last said it is alive: what
    a silent one holds is free again within seconds, long before its lease lapses."""

    __tablename__ = "worker_heartbeats"

    owner: Mapped[str] = mapped_column(String(96), primary_key=True)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class PeerHost(Base):
    """How a peer host has been answering; unavailable hosts are only probed now and then."""

    __tablename__ = "peer_hosts"

    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    available: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_probe_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PeerDeliveryHour(Base):
    """Delivery attempts to a peer host in one clock hour: what the admin page charts.

    Counted when the worker records its outcomes (one statement per batch); the delivery rows
    alone could not tell a failed attempt that was retried later.
    """

    __tablename__ = "peer_delivery_hours"

    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    delivered: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    failed: Mapped[int] = mapped_column(Integer, default=0, nullable=False)


class DeletedNote(Base):
    """A remote note its author deleted: its uri is remembered (as Mastodon's tombstones) so
    that a Create or Update of it that arrives after the Delete (the Create was retried, or
    processed later) does not bring it back."""

    __tablename__ = "deleted_notes"

    uri: Mapped[str] = mapped_column(String(1024), primary_key=True)
    deleted_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class NodeKey(Base):
    """Key pairs of the node itself (the instance actor that signs the node's own fetches).

    In the database, not in DATA_DIR, so that every process of a scaled-out node signs with
    the same key.
    """

    __tablename__ = "node_keys"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    private_key_pem: Mapped[str] = mapped_column(Text, nullable=False)
    public_key_pem: Mapped[str] = mapped_column(Text, nullable=False)
