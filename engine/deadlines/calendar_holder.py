"""The working-day calendar as the engine uses it: loaded from the database (seeded with the
bundled official schedules), reloaded when another process loads a new year, and exposed to
BPMN expressions as functions."""
from __future__ import annotations

import json
import threading
from datetime import date, datetime
from typing import Protocol

from yijianshi.engine.deadlines.working_calendar import ScheduleMissing, WorkingCalendar, YearSchedule, bundled_schedules
from yijianshi.engine.clock import SHANGHAI
from yijianshi.storage import calendar_store


class HasCalendar(Protocol):
    """Whatever gives the working calendar in force: a CalendarHolder, or the bundled schedules alone."""

    @property
    def calendar(self) -> WorkingCalendar: ...


class CalendarHolder:
    """The current WorkingCalendar of one process."""

    def __init__(self, db) -> None:
        self.db = db
        self._calendar: WorkingCalendar | None = None
        self._stamp = None
        self._lock = threading.Lock()

    @property
    def calendar(self) -> WorkingCalendar:
        calendar = self._calendar
        return calendar if calendar is not None else self.reload()

    def reload(self) -> WorkingCalendar:
        with self.db.reader.connect() as conn:
            stamp = calendar_store.stamp(conn)
            rows = calendar_store.all_years(conn)
            closure_rows = calendar_store.all_closures(conn)
        # The bundled official schedules are always known; years loaded into the database add to
        # them or replace them (WorkingCalendar lets a later schedule of the same year win).
        schedules = bundled_schedules() + [YearSchedule.from_json(r.year, json.loads(r.schedule_json))
                                           for r in rows]
        closures: dict[str, set[date]] = {}
        for c in closure_rows:
            closures.setdefault(c.region, set()).add(date.fromisoformat(c.day))
        calendar = WorkingCalendar(schedules, closures)
        with self._lock:
            self._calendar = calendar
            self._stamp = stamp
        return calendar

    def refresh_if_changed(self) -> bool:
        with self.db.reader.connect() as conn:
            stamp = calendar_store.stamp(conn)
        if stamp != self._stamp:
            self.reload()
            return True
        return False

    def seed_bundled(self, actor: str = "system") -> list[int]:
        """Store the bundled official schedules for years the database does not have yet."""
        with self.db.writer.begin() as conn:
            have = {r.year for r in calendar_store.all_years(conn)}
            added = []
            for schedule in bundled_schedules():
                if schedule.year not in have:
                    calendar_store.put_year(conn, schedule.year, json.dumps(schedule.to_json(), ensure_ascii=False),
                                            "engine/deadlines/data/holidays-cn.json", datetime.now(SHANGHAI), actor)
                    added.append(schedule.year)
        self.reload()
        return added


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
