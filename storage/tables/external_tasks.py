"""Table of open external tasks: service tasks (camunda:type="external") of running cases that wait
for a worker, projected from each case's workflow like work items. A worker locks one for a while
(fetchAndLock), then completes it, reports a failure (retries; at 0 it is an incident) or a BPMN
error. The row goes away when the task is no longer waiting."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from yijianshi.storage.tables.base import Base, TaskId, UTCDateTime


class ExternalTask(Base):
    __tablename__ = "external_tasks"
    __table_args__ = (Index("ix_external_tasks_topic", "topic", "lock_expires_at"),)
    id: Mapped[str] = mapped_column(TaskId, primary_key=True)  # the task's id in the workflow
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    definition_id: Mapped[int] = mapped_column(Integer)
    definition_key: Mapped[str] = mapped_column(String(255))
    business_key: Mapped[str | None] = mapped_column(String(255))
    process_id: Mapped[str] = mapped_column(String(255))
    task_spec: Mapped[str] = mapped_column(String(255))  # the activity id
    name: Mapped[str] = mapped_column(String(255))
    topic: Mapped[str] = mapped_column(String(255))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    variables_json: Mapped[str] = mapped_column(Text)  # the task's data when it became ready (it cannot change while waiting)
    worker_id: Mapped[str | None] = mapped_column(String(255))
    lock_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retries: Mapped[int | None] = mapped_column(Integer)  # None: never failed; 0: an incident
    error_message: Mapped[str | None] = mapped_column(String(2000))
    error_details: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
