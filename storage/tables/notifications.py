"""Tables of notifications: the outbox (one row per message to send, written in the same transaction
as the case command or deadline scan that causes it, then delivered by the dispatcher with retries)
and the in-app notifications a signed-in person sees under the bell."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from yijianshi.storage.tables.base import Base, BigId, UTCDateTime


DEDUPED = text("dedupe_key IS NOT NULL")


class OutboxMessage(Base):
    """A message waiting to be delivered (pending), being delivered (sending), delivered (sent),
    given up after its attempts (failed) or no longer needed (cancelled)."""

    __tablename__ = "outbox"
    # At most one row per dedupe key; rows without one are not in the index (0029).
    __table_args__ = (Index("ix_outbox_due", "state", "next_attempt_at"),
                      Index("uq_outbox_dedupe_key", "dedupe_key", unique=True, sqlite_where=DEDUPED,
                            postgresql_where=DEDUPED))
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(16))  # inapp, email, sms, webhook, revisit
    kind: Mapped[str] = mapped_column(String(32))  # new_work, warning, overdue, supplement, accepted, ...
    case_id: Mapped[int | None] = mapped_column(BigId, index=True)
    recipient: Mapped[str] = mapped_column(String(1000))  # user:/group: entries, an address, a phone, a URL
    subject: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    payload_json: Mapped[str | None] = mapped_column(Text)  # the webhook's JSON body
    dedupe_key: Mapped[str | None] = mapped_column(String(255))  # at most one row per key
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Notification(Base):
    """One in-app notification of one person (the bell)."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user", "username", "read_at", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(255))
    outbox_id: Mapped[int | None] = mapped_column(BigId)
    case_id: Mapped[int | None] = mapped_column(BigId)
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
