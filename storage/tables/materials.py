"""Table of uploaded materials.

Materials are stored on disk by content hash (one file per distinct content); these rows say which
case a file belongs to, under which name, and who attached it at which step."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from yijianshi.storage.tables.base import Base, BigId, TaskId, UTCDateTime


class Material(Base):
    """One uploaded file attached to a case at a work item (申请材料 or 办理结果)."""

    __tablename__ = "materials"
    __table_args__ = (Index("ix_materials_case", "case_id", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    work_item_id: Mapped[str | None] = mapped_column(TaskId)
    task_name: Mapped[str] = mapped_column(String(255))  # the step it was attached at, for display
    kind: Mapped[str] = mapped_column(String(16))  # application, result
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
