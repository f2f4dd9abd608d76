"""Loading a newly published holiday schedule and re-arming the deadlines it affects."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time

from yijianshi.engine.access.actors import SYSTEM, Actor
from yijianshi.engine.deadlines.working_calendar import CalendarError, ScheduleMissing, YearSchedule, parse_schedule
from yijianshi.engine.clock import SHANGHAI
from yijianshi.storage import calendar_store
from yijianshi.storage import case_store
from yijianshi.storage import deadline_store


@dataclass
class CalendarLoadReport:
    years: list[int]
    rearmed: list[int] = field(default_factory=list)  # case ids whose due times were computed again
    still_flagged: list[int] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"已导入 {y} 年法定节假日安排" for y in self.years]
        out.append(f"重新计算期限的案件：{len(self.rearmed)} 个" + (f"（{', '.join(map(str, self.rearmed))}）"
                                                                if self.rearmed else ""))
        if self.still_flagged:
            out.append(f"仍需管理员处理的案件：{', '.join(map(str, self.still_flagged))}")
        return out


def load_calendar(engine, data: bytes | str, source: str, actor: Actor = SYSTEM) -> CalendarLoadReport:
    """Validate and store the years in a schedule file (all or nothing), then re-arm every deadline
    whose span touches those years and every deadline that was waiting for them."""
    schedules = parse_schedule(data, source)
    now = engine.clock.now()
    with engine.db.writer.begin() as conn:
        for schedule in schedules:
            calendar_store.put_year(conn, schedule.year, json.dumps(schedule.to_json(), ensure_ascii=False),
                                    source, now, actor.id)
    engine.calendar.reload()
    start = datetime.combine(date(min(s.year for s in schedules), 1, 1), time.min, SHANGHAI)
    end = datetime.combine(date(max(s.year for s in schedules), 12, 31), time.max, SHANGHAI)
    with engine.db.reader.connect() as conn:
        affected = set(deadline_store.cases_with_deadlines_between(conn, start, end))
        affected.update(r.id for r in case_store.cases_needing_attention(conn))
    report = CalendarLoadReport([s.year for s in schedules])
    for case_id in sorted(affected):
        if engine.cases.rearm_timers(case_id, actor) is not None:
            report.rearmed.append(case_id)
    with engine.db.reader.connect() as conn:
        report.still_flagged = [r.id for r in case_store.cases_needing_attention(conn)]
    return report


def add_closure(engine, region: str, day: date, reason: str, actor: Actor = SYSTEM) -> CalendarLoadReport:
    """Declare an extra non-working day for one region (a local closure notice) and re-arm the
    deadlines whose span covers that day."""
    if not region.strip() or not reason.strip():
        raise CalendarError("请填写地区代码和停止办公的原因。")
    with engine.db.writer.begin() as conn:
        calendar_store.put_closure(conn, region.strip(), day.isoformat(), reason.strip())
    engine.calendar.reload()
    start = datetime.combine(day, time.min, SHANGHAI)
    end = datetime.combine(day, time.max, SHANGHAI)
    with engine.db.reader.connect() as conn:
        affected = deadline_store.cases_with_deadlines_between(conn, start, end)
    report = CalendarLoadReport([])
    for case_id in affected:
        if engine.cases.rearm_timers(case_id, actor) is not None:
            report.rearmed.append(case_id)
    return report


def describe_year(engine, year: int) -> list[str]:
    """A printable summary of one year's schedule as the engine uses it."""
    with engine.db.reader.connect() as conn:
        row = next((r for r in calendar_store.all_years(conn) if r.year == year), None)
    if row is None:
        raise ScheduleMissing(year)
    schedule = YearSchedule.from_json(year, json.loads(row.schedule_json))
    calendar = engine.calendar.calendar
    working = calendar.working_days_between(date(year - 1, 12, 31), date(year, 12, 31))
    lines = [f"{year} 年（来源：{row.source}；导入：{row.loaded_by} {row.loaded_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M}）"]
    for start, end, name in schedule.holidays:
        lines.append(f"  放假 {start} 至 {end}  {name}")
    for day in schedule.makeup_workdays:
        lines.append(f"  调休上班 {day}（{'一二三四五六日'[day.weekday()]}）")
    with engine.db.reader.connect() as conn:
        for c in calendar_store.all_closures(conn):
            if c.day.startswith(str(year)):
                lines.append(f"  地区停办 {c.day}  {c.region}：{c.reason}")
    lines.append(f"  全年工作日 {working} 天（全国）")
    return lines
