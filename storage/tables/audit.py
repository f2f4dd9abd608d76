"""Tables and indexes of the audit views: background exports of event logs, and the indexes the
case search uses (applicant and application time on `cases`)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from yijianshi.storage.tables.base import Base, BigId, UTCDateTime
from yijianshi.storage.tables.cases import Case

# Case search: "cases of this applicant, newest first" and "cases applied for between two days".
Index("ix_cases_started_by", Case.started_by, Case.id)
Index("ix_cases_started_at", Case.started_at)


class CheckpointMark(Base):
    """That checkpoint number N with this digest was signed (engine/audit/checkpoints.py). Not trusted
    by verification, which reads only the checkpoint folder: a coordination record, so that a
    scheduler on a host whose checkpoint folder is not the one the others write to refuses to start a
    second, forked log there."""

    __tablename__ = "checkpoint_marks"
    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    digest: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ExportJob(Base):
    """An export of event logs (XES or CSV) running in the background: the filter it was asked for,
    how far it got, and the file it wrote (in the export folder, named after the job)."""

    __tablename__ = "export_jobs"
    __table_args__ = (Index("ix_export_jobs_requested_by", "requested_by", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    requested_by: Mapped[str] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(8))  # xes, csv
    filter_json: Mapped[str] = mapped_column(Text)  # the case search, as canonical JSON
    state: Mapped[str] = mapped_column(String(16))  # queued, running, done, failed
    total: Mapped[int] = mapped_column(Integer)  # cases to export
    done: Mapped[int] = mapped_column(Integer)  # cases written so far
    events: Mapped[int] = mapped_column(Integer)  # events written so far
    error: Mapped[str | None] = mapped_column(String(1024))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
