"""The working-day calendar as the engine uses it: loaded from the database (seeded with the
bundled official schedules), reloaded when another process loads a new year, and exposed to
BPMN expressions as functions."""
from __future__ import annotations

import json
import threading
from datetime import date, datetime

from yijianshi.engine.deadlines.calendar_functions import HasCalendar, calendar_functions  # noqa: F401 (re-exported)
from yijianshi.engine.deadlines.working_calendar import WorkingCalendar, YearSchedule, bundled_schedules
from yijianshi.engine.clock import SHANGHAI
from yijianshi.storage import calendar_store


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
