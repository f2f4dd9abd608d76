"""The work and the cases behind a number of the supervision dashboard or of a weekly bulletin, so
every such number opens as the list of what it counts.

A selection names what a number counts (`status`) and its group (scenario, department, escalation
level); a window names when: the dashboard's (now, with the last `days` days for what ended or
escalated) or a bulletin's week (its end, or the moment the bulletin was made while the week was
still running). The lists are read by the same conditions as the grouped counts
(storage/supervision_store.py), so a list has as many rows as its number; a number of work (在办,
预警, 超期, 按时办结 …) lists work items with their cases, a number of cases (升级, 新立案, 办结)
lists cases.

A stored bulletin's number is compared with its list again (`stored_count`): when the data changed
after the bulletin was made (a case deleted, a deadline changed), the list shows what the event data
says now, and the page says the two differ."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from yijianshi.engine.clock import SHANGHAI, to_utc
from yijianshi.engine.deadlines.timers import UNRESOLVED
from yijianshi.engine.errors import EngineError
from yijianshi.engine.supervision import figures as supervision
from yijianshi.engine.supervision import weekly_bulletin
from yijianshi.engine.supervision.escalation_levels import LEVEL_NAMES, LEVELS, PATHWAY, deployed_level_map
from yijianshi.storage import supervision_store as store

OPEN_STATUSES = ("open", "warning", "overdue")  # open work at the window's moment
ENDINGS = ("on_time", "late", "timed_out", "ended")  # work with a deadline that ended in the window
CASE_STATUSES = ("reached", "started", "completed")  # cases: escalated to a level, started, completed
STATUSES = OPEN_STATUSES + ENDINGS + CASE_STATUSES


class FilterError(EngineError):
    """A selection that names no number; the message says which value is wrong."""


@dataclass(frozen=True)
class Selection:
    status: str
    scenario: str | None = None
    department: str | None = None
    level: int | None = None

    @property
    def counts_cases(self) -> bool:
        return self.status in CASE_STATUSES


@dataclass(frozen=True)
class Window:
    as_of: datetime  # the moment open work is counted at
    current: bool  # open work from the inbox rows (now), or reconstructed as of a past moment
    start: datetime  # [start, end): what ended, escalated, started or completed
    end: datetime
    days: int | None = None
    week: str | None = None


@dataclass(frozen=True)
class Line:
    """One row of a list: a case, and the work item when the number counts work."""

    case_id: int
    title: str
    business_key: str | None
    scenario: str
    started_at: datetime
    work_item_id: str | None = None
    task: str | None = None
    groups: str = ""
    due_at: datetime | None = None
    ended_at: datetime | None = None
    state: str | None = None


def dashboard_window(engine, days: int) -> Window:
    """The window of the dashboard (figures.dashboard): now, and the last `days` days."""
    now = engine.clock.now().astimezone(SHANGHAI)
    return Window(now, True, now - timedelta(days=days), now + timedelta(microseconds=1), days=days)


def bulletin_window(bulletin: weekly_bulletin.Bulletin) -> Window:
    """The window of a stored bulletin: its week, open work as of the moment its figures were taken."""
    start, end = weekly_bulletin.week_bounds(bulletin.week)
    as_of = datetime.fromisoformat(bulletin.figures["as_of"]) if bulletin.figures.get("as_of") else end
    # A bulletin made while its week ran counted what had ended, escalated or started by then.
    return Window(as_of, False, start, min(end, as_of + timedelta(microseconds=1)), week=bulletin.week)


def selection(engine, status: str | None, scenario: str | None = None, department: str | None = None,
              level: str | None = None) -> Selection:
    """A selection from the words of a request; FilterError names an unknown value."""
    if status not in STATUSES:
        raise FilterError(f"未知的统计口径：{status or '（空）'}。")
    number: int | None = None
    if level not in (None, ""):
        try:
            number = int(str(level))
        except ValueError:
            number = -1
        if number not in LEVEL_NAMES or (status == "reached" and number not in LEVELS):
            raise FilterError(f"未知的办理层级：{level}。")
    elif status == "reached":
        raise FilterError("诉求升级清单须指明办理层级。")
    with engine.db.reader.connect() as conn:
        if scenario and scenario not in supervision.scenario_names(conn):
            raise FilterError(f"未知的场景：{scenario}。")
        if department and not store.group_known(conn, department):
            raise FilterError(f"未知的部门：{department}。")
    if status in CASE_STATUSES and department:
        raise FilterError("办件数不按部门统计，不能按部门筛选。")
    if number is not None and (scenario or department or status in ("started", "completed") or status in ENDINGS):
        raise FilterError("按办理层级统计的只有“有需必应”诉求的在办事项和升级诉求，不能与场景或部门同时筛选。")
    return Selection(status, scenario or None, department or None, number)


def lines(engine, sel: Selection, window: Window) -> list[Line]:
    """The work items or cases behind the number `sel` names, in `window`."""
    staff = supervision.STAFF_WORK
    with engine.db.reader.connect() as conn:
        levels = deployed_level_map(conn) if sel.level is not None else {}
        if sel.status in OPEN_STATUSES:
            rows = store.open_items(conn, to_utc(window.as_of), status=sel.status, current=window.current,
                                    department=sel.department, scenario=sel.scenario, staff=staff,
                                    level=(PATHWAY, levels, sel.level) if sel.level is not None else None)
        elif sel.status in ENDINGS:
            rows = store.ended_items(conn, to_utc(window.start), to_utc(window.end),
                                     ending=None if sel.status == "ended" else sel.status,
                                     department=sel.department, scenario=sel.scenario, unresolved=UNRESOLVED,
                                     staff=staff)
        elif sel.status == "reached":
            assert sel.level is not None
            return [_case_line(r) for r in store.cases_reaching_level(conn, to_utc(window.start), to_utc(window.end),
                                                                     PATHWAY, levels, sel.level)]
        else:
            return [_case_line(r) for r in store.cases_counted(conn, to_utc(window.start), to_utc(window.end),
                                                               completed=sel.status == "completed",
                                                               scenario=sel.scenario)]
    return [Line(r.case_id, r.title, r.business_key, r.definition_key, r.case_started_at, r.work_item_id, r.task,
                 r.groups, r.due_at, r.ended_at, r.state) for r in rows]


def _case_line(r) -> Line:
    return Line(r.case_id, r.title, r.business_key, r.definition_key, r.case_started_at, ended_at=r.case_ended_at,
                state=r.status)


def stored_count(figures: dict, sel: Selection) -> int | None:
    """The number a stored bulletin printed for a selection; None when it printed none (a group
    that had nothing to report)."""
    s = sel.status
    if s in ("started", "completed"):
        if sel.scenario is None:
            return figures["new_cases" if s == "started" else "completed_cases"]
        row = _find(figures.get("cases_by_scenario", ()), sel.scenario)
        return row[s] if row else 0
    if s == "reached":
        row = next((e for e in figures.get("escalations", ()) if e["level"] == sel.level), None)
        return row["cases"] if row else None
    if s in OPEN_STATUSES:
        if sel.level is not None:
            row = next((u for u in figures.get("open_by_level", ()) if u["key"] == sel.level), None)
            return row[s] if row else 0
        if sel.department is not None:
            row = _find(figures.get("open_by_department", ()), sel.department)
        elif sel.scenario is not None:
            row = _find(figures.get("open_by_scenario", ()), sel.scenario)
        else:
            return figures.get(s)  # the week's warning and overdue (no open total is printed)
        return row[s] if row else None
    if sel.scenario is not None:
        return None  # the bulletin prints no on-time figures by scenario
    row = (_find(figures.get("on_time_by_department", ()), sel.department) if sel.department is not None
           else figures.get("on_time"))
    if row is None:
        return None
    return row["on_time"] + row["late"] + row["timed_out"] if s == "ended" else row[s]


def _find(rows, key: str) -> dict | None:
    return next((r for r in rows if r["key"] == key), None)
