"""Tables of the deadline scheduler: armed deadlines, and the lease of the active scheduler."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from yijianshi.storage.tables.base import Base, BigId, TaskId, UTCDateTime


class Deadline(Base):
    """An armed point in time a case waits for (a BPMN timer). The scheduler finds due rows by the
    (state, due_at) index and fires each exactly once."""

    __tablename__ = "deadlines"
    __table_args__ = (Index("ix_deadlines_state_due", "state", "due_at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    task_id: Mapped[str] = mapped_column(TaskId)  # the waiting timer task
    task_spec: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))  # timer, warning, overdue
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16))  # armed, fired, cancelled
    armed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SchedulerLease(Base):
    """Leadership of the deadline scheduler: one row per role, held by the process that renewed it last."""

    __tablename__ = "scheduler_leases"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime)
