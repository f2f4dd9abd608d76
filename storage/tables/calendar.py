"""Tables of the working calendar: published holiday schedules by year, and regional closures."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from yijianshi.storage.tables.base import Base, UTCDateTime


class CalendarYear(Base):
    """The published holiday schedule of one year (国务院办公厅 notice), as loaded by an administrator."""

    __tablename__ = "calendar_years"
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    schedule_json: Mapped[str] = mapped_column(Text)  # {"holidays": [[start, end, name]], "makeup_workdays": [...]}
    source: Mapped[str] = mapped_column(String(1024))
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    loaded_by: Mapped[str] = mapped_column(String(255))


class CalendarClosure(Base):
    """An extra non-working day for one region (e.g. a district office closed by local notice)."""

    __tablename__ = "calendar_closures"
    region: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # ISO date
    reason: Mapped[str] = mapped_column(String(255))
