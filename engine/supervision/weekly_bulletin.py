"""每周通报: the weekly bulletin of supervision, one per ISO week (Monday 00:00 to the next Monday
00:00, Asia/Shanghai).

A week's figures: cases started and completed, the on-time rate of work that ended in the week
(overall and by department), open work in warning and overdue at the end of the week by department,
scenario and escalation level, the cases that reached each level of the 有需必应 pathway, the
longest-overdue open work, and the measured outcomes of the cases completed in the week by scenario
(engine/supervision/outcomes.py, from the event log). They are computed from the projections (the end of a past week is
reconstructed from when each work item opened and ended) and stored as one row per week:
generating a week again replaces its row, so a bulletin exists once whoever generates it and however
often. The scheduler generates the previous week every Monday at 08:00 (engine/scheduler.py)."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from yijianshi.engine.supervision import figures as supervision
from yijianshi.engine.supervision import outcomes
from yijianshi.engine.clock import SHANGHAI, to_utc
from yijianshi.engine.errors import EngineError, NotFound
from yijianshi.storage import supervision_store as store

_WEEK_RE = re.compile(r"(\d{4})-?W(\d{1,2})")
TOP_OVERDUE = 10


class BulletinError(EngineError):
    """A week that cannot be named or reported on; the message says why."""


@dataclass(frozen=True)
class Bulletin:
    week: str
    week_start: date
    generated_at: datetime
    generated_by: str
    figures: dict

    @property
    def week_end(self) -> date:
        """The Sunday."""
        return self.week_start + timedelta(days=6)


def week_of(day: date) -> str:
    """The ISO week a day belongs to, as 2026-W47."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def parse_week(text: str) -> str:
    """A week as written by a person (2026-W47, 2026-w5) in its canonical form; BulletinError if
    it is not a week."""
    found = _WEEK_RE.fullmatch((text or "").strip().upper())
    if not found:
        raise BulletinError(f"周次格式应为 YYYY-Www（例如 2026-W47）：{text}")
    year, week = int(found.group(1)), int(found.group(2))
    try:
        date.fromisocalendar(year, week, 1)
    except ValueError as err:
        raise BulletinError(f"{year} 年没有第 {week} 周。") from err
    return f"{year}-W{week:02d}"


def week_bounds(week: str) -> tuple[datetime, datetime]:
    """[Monday 00:00, next Monday 00:00) of a week, Asia/Shanghai."""
    week = parse_week(week)
    year, number = int(week[:4]), int(week[6:])
    monday = date.fromisocalendar(year, number, 1)
    start = datetime.combine(monday, time(0, 0), tzinfo=SHANGHAI)
    return start, start + timedelta(days=7)


def previous_week(now: datetime) -> str:
    """The last complete week before `now`."""
    return week_of(now.astimezone(SHANGHAI).date() - timedelta(days=7))


def compute(engine, week: str) -> dict:
    """The figures of a week (JSON-compatible). A week still running is reported up to now."""
    week = parse_week(week)
    start, end = week_bounds(week)
    now = engine.clock.now().astimezone(SHANGHAI)
    if now < start:
        raise BulletinError(f"{week} 尚未开始，不能生成通报。")
    as_of = min(end, now)
    with engine.db.reader.connect() as conn:
        counts = supervision.case_counts(conn, start, end)
        work = supervision.open_work(conn, as_of, current=False)
        overall = supervision.on_time(conn, start, end)
        by_department = supervision.on_time(conn, start, end, "department")
        reached = supervision.escalations(conn, start, end)
        overdue = store.top_overdue(conn, to_utc(as_of), current=False, limit=TOP_OVERDUE,
                                   staff=supervision.STAFF_WORK)
        names = supervision.scenario_names(conn)
    measured = [o.to_dict() for o in outcomes.all_outcomes(engine, start, end) if o.cases]
    return {
        "week": week, "start": start.date().isoformat(), "end": (end - timedelta(days=1)).date().isoformat(),
        "as_of": as_of.isoformat(), "complete": as_of == end,
        "new_cases": sum(c.started for c in counts), "completed_cases": sum(c.completed for c in counts),
        "cases_by_scenario": [{"key": c.key, "name": names.get(c.key, c.key), "started": c.started,
                               "completed": c.completed} for c in counts],
        "on_time": (overall[0] if overall else supervision.OnTime(None, 0, 0, 0)).to_dict(),
        "on_time_by_department": [o.to_dict() for o in by_department],
        "open_by_department": [u.to_dict() for u in work["department"] if u.attention],
        "open_by_scenario": [{**u.to_dict(), "name": names.get(str(u.key), u.key)} for u in work["scenario"]
                             if u.attention],
        "open_by_level": [u.to_dict() for u in work["level"]],
        "warning": sum(u.warning for u in work["scenario"]),
        "overdue": sum(u.overdue for u in work["scenario"]),
        "escalations": [e.to_dict() for e in reached],
        "outcomes": measured,
        "top_overdue": [{"work_item_id": r.id, "case_id": r.case_id, "title": r.title,
                         "business_key": r.business_key, "scenario": names.get(r.definition_key, r.definition_key),
                         "task": r.name, "groups": r.groups, "due_at": r.due_at.astimezone(SHANGHAI).isoformat(),
                         "overdue_days": (as_of - r.due_at).days} for r in overdue],
    }


def generate(engine, week: str, by: str = "scheduler") -> Bulletin:
    """Compute a week's bulletin and store it, replacing any earlier one of that week."""
    week = parse_week(week)
    figures = compute(engine, week)
    at = engine.clock.now()
    with engine.db.writer.begin() as conn:
        store.replace_bulletin(conn, {"week": week, "week_start": figures["start"], "generated_at": to_utc(at),
                                      "generated_by": by[:255],
                                      "figures_json": json.dumps(figures, ensure_ascii=False, sort_keys=True)})
    return Bulletin(week, date.fromisoformat(figures["start"]), at, by, figures)


def generate_if_missing(engine, week: str, by: str = "scheduler") -> Bulletin | None:
    """Generate a week's bulletin unless it exists (catching up after the scheduler was down)."""
    with engine.db.reader.connect() as conn:
        if store.has_bulletin(conn, parse_week(week)):
            return None
    return generate(engine, week, by)


def _bulletin(row) -> Bulletin:
    return Bulletin(row.week, date.fromisoformat(row.week_start), row.generated_at.astimezone(SHANGHAI),
                    row.generated_by, json.loads(row.figures_json))


def get(engine, week: str) -> Bulletin:
    week = parse_week(week)
    with engine.db.reader.connect() as conn:
        row = store.bulletin(conn, week)
    if row is None:
        raise NotFound(f"{week} 的每周通报尚未生成。")
    return _bulletin(row)


def listing(engine, limit: int = 104) -> list[Bulletin]:
    """Stored bulletins, newest week first."""
    with engine.db.reader.connect() as conn:
        return [_bulletin(r) for r in store.bulletin_list(conn, limit=limit)]


def neighbours(engine, week: str) -> tuple[str | None, str | None]:
    """The stored weeks just before and just after a week (for paging through bulletins)."""
    with engine.db.reader.connect() as conn:
        return store.neighbour_weeks(conn, parse_week(week))
