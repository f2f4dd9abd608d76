"""The working-day calendar as BPMN expressions see it: functions (add_working_days, working_days,
warning_before, is_working_day) on whatever holds the calendar in force. Kept apart from the
database-backed CalendarHolder so that a script worker process can use them without the storage layer."""
from __future__ import annotations

from datetime import date, datetime
from typing import Protocol

from yijianshi.engine.deadlines.working_calendar import ScheduleMissing, WorkingCalendar


class HasCalendar(Protocol):
    """Whatever gives the working calendar in force: a CalendarHolder, or the bundled schedules alone."""

    @property
    def calendar(self) -> WorkingCalendar: ...


def _as_datetime(value) -> datetime | date:
    if isinstance(value, (datetime, date)):
        return value
    return datetime.fromisoformat(str(value))


def calendar_functions(holder: HasCalendar, now) -> dict:
    """Working-day functions for expressions. Each returns an ISO time string (what BPMN timers
    need); a year without a published schedule yields the UNRESOLVED time and flags the case,
    never a Mon–Fri guess."""
    from yijianshi.engine.deadlines.timers import UNRESOLVED

    def _compute(fn):
        try:
            return fn(holder.calendar).isoformat()
        except ScheduleMissing:
            holder.refresh_if_changed()  # another process may have loaded the year meanwhile
            try:
                return fn(holder.calendar).isoformat()
            except ScheduleMissing:
                return UNRESOLVED.isoformat()

    def add_working_days(start, n: int, region: str | None = None) -> str:
        return _compute(lambda cal: cal.add_working_days(_as_datetime(start), int(n), region))

    def working_days(n: int, region: str | None = None) -> str:
        return add_working_days(now(), n, region)

    def warning_before(n: int, before: int = 1, region: str | None = None) -> str:
        return _compute(lambda cal: cal.warning_time(now(), int(n), int(before), region))

    def is_working_day(day, region: str | None = None) -> bool:
        return holder.calendar.is_working_day(_as_datetime(day), region)

    return {"add_working_days": add_working_days, "working_days": working_days,
            "warning_before": warning_before, "is_working_day": is_working_day}
