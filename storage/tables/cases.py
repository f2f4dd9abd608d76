"""Tables of cases: the case row with its engine state, the small indexed projections (work items
and their groups, message waits, correlation values) that queries read instead of deserializing
cases, and the append-only, hash-chained event log."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from yijianshi.storage.tables.base import Base, BigId, UTCDateTime


class Case(Base):
    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("definitions.id"), index=True)
    definition_key: Mapped[str] = mapped_column(String(255), index=True)
    business_key: Mapped[str | None] = mapped_column(String(255), index=True)
    title: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), index=True)  # running, completed, cancelled
    version: Mapped[int] = mapped_column(Integer)  # optimistic lock, bumped by every command
    engine_state: Mapped[str] = mapped_column(Text)
    started_by: Mapped[str] = mapped_column(String(255))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    history_seq: Mapped[int] = mapped_column(Integer)  # seq of the last event
    history_head: Mapped[str] = mapped_column(String(64))  # hash of the last event
    attention: Mapped[str | None] = mapped_column(String(512))  # why an administrator must look at it


class WorkItem(Base):
    """Projection of one human task of a case: what inboxes query."""

    __tablename__ = "work_items"
    __table_args__ = (
        Index("ix_work_items_state_due", "state", "due_at"),
        Index("ix_work_items_claimed", "claimed_by", "state"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the engine task's id
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("definitions.id"))
    process_id: Mapped[str] = mapped_column(String(255))
    task_spec: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    groups: Mapped[str] = mapped_column(String(1024))  # comma-separated, also in work_item_groups
    state: Mapped[str] = mapped_column(String(16))  # ready, completed, cancelled
    claimed_by: Mapped[str | None] = mapped_column(String(255))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    warning_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_by: Mapped[str | None] = mapped_column(String(255))


class WorkItemGroup(Base):
    """One row per (work item, department or role) so an inbox is a single index range scan."""

    __tablename__ = "work_item_groups"
    __table_args__ = (Index("ix_work_item_groups_group_state", "group_code", "state", "due_at"),)
    work_item_id: Mapped[str] = mapped_column(
        ForeignKey("work_items.id", ondelete="CASCADE"), primary_key=True
    )
    group_code: Mapped[str] = mapped_column(String(128), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MessageWait(Base):
    """A case waiting for a message by name (projection, rewritten by every command)."""

    __tablename__ = "message_waits"
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    message_name: Mapped[str] = mapped_column(String(255), primary_key=True, index=True)


class CorrelationValue(Base):
    """A correlation property value of a case (and its business key), to route messages."""

    __tablename__ = "correlation_values"
    __table_args__ = (Index("ix_correlation_values_lookup", "name", "value"),)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(String(512))


class Event(Base):
    """Append-only history: one row per thing that happened, chained per case by hash."""

    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("case_id", "seq", name="uq_events_case_seq"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    work_item_id: Mapped[str | None] = mapped_column(String(36))
    task_spec: Mapped[str | None] = mapped_column(String(255))
    data: Mapped[str] = mapped_column(Text)  # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
