"""Commands on a case that failed (a script error, a broken process, an unexpected fault), written in a
transaction of their own after the failed one rolled back, so that administrators can find cases
whose commands keep failing (stuck cases) and retry or cancel them."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from yijianshi.storage.tables.base import Base, BigId, TaskId, UTCDateTime


class CommandFailure(Base):
    __tablename__ = "command_failures"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    case_version: Mapped[int] = mapped_column(Integer)  # the version the command failed on
    command: Mapped[str] = mapped_column(String(64))  # complete_work_item, fire_deadline, …
    work_item_id: Mapped[str | None] = mapped_column(TaskId)
    actor: Mapped[str] = mapped_column(String(255))
    error: Mapped[str] = mapped_column(String(2000))
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the latest time it failed so
    attempts: Mapped[int] = mapped_column(Integer)  # how often the same command failed the same way on this version
