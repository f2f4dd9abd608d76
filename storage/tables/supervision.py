"""Tables of supervision (督查): the weekly bulletin (每周通报), one row per ISO week; the measured
outcome of each finished case (实测, engine/supervision/outcomes.py), kept so that the first figures
after a restart need not read every case's events again.

The figures themselves are kept as one JSON document per week: they are written once by the
scheduler (or an administrator) and read whole by the bulletin page, never queried piecemeal.

Two indexes on the work-item projection serve the dashboard's period figures: work ended in a period
(on-time rates) and work of a process opened in a period (escalations of the 有需必应 pathway)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from yijianshi.storage.tables.base import Base, BigId, UTCDateTime
from yijianshi.storage.tables.cases import WorkItem


class WeeklyBulletin(Base):
    """每周通报 of one ISO week (Monday to Sunday, Asia/Shanghai); regenerating a week replaces it."""

    __tablename__ = "weekly_bulletins"
    week: Mapped[str] = mapped_column(String(8), primary_key=True)  # ISO week, e.g. 2026-W47
    week_start: Mapped[str] = mapped_column(String(10))  # the Monday, ISO date
    generated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    generated_by: Mapped[str] = mapped_column(String(255))
    figures_json: Mapped[str] = mapped_column(Text)  # canonical JSON of the week's figures


class MeasuredOutcome(Base):
    """What one finished case did, as measured from its events: a cache that never goes stale on its
    own (a finished case does not change), tagged with the basis it was measured on (the scenario's
    items and the working calendar); a row of another basis is measured again."""

    __tablename__ = "case_outcomes"
    case_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    basis: Mapped[str] = mapped_column(String(64))
    measured_json: Mapped[str] = mapped_column(Text)


_items = WorkItem.__table__
# The items ended in a week are found through ix_events_item_ends (tables/cases.py), not an index of
# work_items.ended_at, so that ending an item stays a HOT update on PostgreSQL.
Index("ix_work_items_process_created", _items.c.process_id, _items.c.created_at)
