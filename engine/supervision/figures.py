"""Supervision (督查): the figures a supervisor watches, read from the projections by grouped SQL.

- open work in warning (预警) and overdue (超期) by department, by escalation level of the 有需必应
  pathway and by scenario, now or as of a past moment;
- the on-time rate of work that ended in a period: completed by its due time, against all work
  with a deadline that was completed or timed out in it;
- how many cases reached each escalation level in a period;
- the model metrics of the deployed scenarios (fields, materials, visits, working days saved)."""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from yijianshi.engine.access.api_clients import ACTOR_PREFIX
from yijianshi.engine.access.actors import APPLICANT_ROLE
from yijianshi.engine.clock import SHANGHAI, to_utc
from yijianshi.engine.modeling.definitions import SourceFile
from yijianshi.engine.supervision.escalation_levels import INTAKE, LEVELS, PATHWAY, deployed_level_map
from yijianshi.engine.modeling.scenario_savings import ScenarioMetrics, metrics_of_sources
from yijianshi.engine.deadlines.timers import UNRESOLVED
from yijianshi.storage import supervision_store as store

# Supervision judges the departments' work: the applicant's own steps, and the start form an
# integration client completes with its start, are nobody's department work.
STAFF_WORK = store.StaffWork(APPLICANT_ROLE, ACTOR_PREFIX)
PERIODS = (7, 30, 90)  # days a dashboard looks back for rates and escalations
DEFAULT_PERIOD = 30


@dataclass(frozen=True)
class Urgency:
    """Open work of one group: how much, how much in warning, how much overdue."""

    key: str | int | None
    open: int
    warning: int
    overdue: int

    @property
    def attention(self) -> int:
        return self.warning + self.overdue

    def to_dict(self) -> dict:
        return {"key": self.key, "open": self.open, "warning": self.warning, "overdue": self.overdue}


@dataclass(frozen=True)
class OnTime:
    """Work with a deadline that ended in a period: completed in time, completed late, timed out."""

    key: str | None
    on_time: int
    late: int
    timed_out: int

    @property
    def total(self) -> int:
        return self.on_time + self.late + self.timed_out

    @property
    def rate(self) -> float | None:
        """Percent completed in time, one decimal; None when nothing ended."""
        return None if self.total == 0 else round(100.0 * self.on_time / self.total, 1)

    def to_dict(self) -> dict:
        return {"key": self.key, "on_time": self.on_time, "late": self.late, "timed_out": self.timed_out,
                "rate": self.rate}


@dataclass(frozen=True)
class Escalation:
    level: int
    cases: int

    def to_dict(self) -> dict:
        return {"level": self.level, "cases": self.cases}


@dataclass(frozen=True)
class CaseCount:
    key: str
    started: int
    completed: int


@dataclass(frozen=True)
class Dashboard:
    as_of: datetime
    start: datetime
    end: datetime
    days: int
    by_department: list[Urgency]
    by_level: list[Urgency]
    by_scenario: list[Urgency]
    on_time: OnTime
    on_time_by_department: list[OnTime]
    on_time_by_scenario: list[OnTime]
    escalations: list[Escalation]
    scenario_names: dict[str, str] = field(default_factory=dict)

    @property
    def warning(self) -> int:
        return sum(u.warning for u in self.by_scenario)

    @property
    def overdue(self) -> int:
        return sum(u.overdue for u in self.by_scenario)

    @property
    def open(self) -> int:
        return sum(u.open for u in self.by_scenario)


def _urgency(rows) -> list[Urgency]:
    return [Urgency(r.key, int(r.open), int(r.warning), int(r.overdue)) for r in rows]


def _on_time(rows) -> list[OnTime]:
    return [OnTime(r.key, int(r.on_time), int(r.late), int(r.timed_out)) for r in rows]


def open_work(conn, as_of: datetime, *, current: bool = True) -> dict[str, list[Urgency]]:
    """Open work in warning and overdue by department, escalation level and scenario."""
    at = to_utc(as_of)
    levels = deployed_level_map(conn)
    by_level = {u.key: u for u in _urgency(store.urgency_by_level(conn, at, PATHWAY, levels, current=current,
                                                                          staff=STAFF_WORK))}
    return {
        "department": sorted(_urgency(store.urgency_by_department(conn, at, current=current, staff=STAFF_WORK)),
                             key=lambda u: (-u.overdue, -u.warning, -u.open, u.key)),
        # Every level is listed, with zeros, so the pathway reads as a whole.
        "level": [by_level.get(n, Urgency(n, 0, 0, 0)) for n in (INTAKE, *LEVELS)] if levels else [],
        "scenario": sorted(_urgency(store.urgency_by_scenario(conn, at, current=current, staff=STAFF_WORK)),
                           key=lambda u: (-u.overdue, -u.warning, -u.open, u.key)),
    }


def on_time(conn, start: datetime, end: datetime, by: str | None = None) -> list[OnTime]:
    return _on_time(store.on_time(conn, to_utc(start), to_utc(end), by=by, unresolved=UNRESOLVED,
                                    staff=STAFF_WORK))


def escalations(conn, start: datetime, end: datetime) -> list[Escalation]:
    """Cases that reached each level of the pathway in [start, end), every level listed."""
    levels = deployed_level_map(conn)
    reached = {r.level: int(r.cases) for r in store.cases_reaching_levels(conn, to_utc(start), to_utc(end),
                                                                         PATHWAY, levels)}
    return [Escalation(n, reached.get(n, 0)) for n in LEVELS] if levels else []


def case_counts(conn, start: datetime, end: datetime) -> list[CaseCount]:
    return [CaseCount(r.key, int(r.started), int(r.completed))
            for r in store.case_counts(conn, to_utc(start), to_utc(end))]


def scenario_names(conn) -> dict[str, str]:
    """Process key → name of its newest deployed version."""
    return {r.key: r.name for r in store.latest_definitions(conn)}


def dashboard(engine, days: int = DEFAULT_PERIOD) -> Dashboard:
    """The supervision dashboard as of the engine's clock, with rates over the last `days` days."""
    if days not in PERIODS:
        days = DEFAULT_PERIOD
    now = engine.clock.now().astimezone(SHANGHAI)
    start = now - timedelta(days=days)
    end = now + timedelta(microseconds=1)  # periods are half-open: this one includes the present moment
    with engine.db.reader.connect() as conn:
        work = open_work(conn, now)
        overall = on_time(conn, start, end)
        return Dashboard(
            as_of=now, start=start, end=now, days=days,
            by_department=work["department"], by_level=work["level"], by_scenario=work["scenario"],
            on_time=overall[0] if overall else OnTime(None, 0, 0, 0),
            on_time_by_department=on_time(conn, start, end, "department"),
            on_time_by_scenario=on_time(conn, start, end, "scenario"),
            escalations=escalations(conn, start, end), scenario_names=scenario_names(conn))


# -- model metrics of the deployed scenarios ----------------------------------------------------------

_metrics_cache: dict[tuple[str, ...], list[ScenarioMetrics]] = {}
_metrics_lock = threading.Lock()


def deployed_scenario_metrics(engine) -> list[ScenarioMetrics]:
    """The scenarios report (engine/scenario_metrics.py) of the newest deployed version of every
    process, from the files stored at deployment. Computed once per set of deployed versions."""
    with engine.db.reader.connect() as conn:
        latest = store.latest_definitions(conn)
        key = tuple(sorted(r.content_hash for r in latest))
        cached = _metrics_cache.get(key)
        if cached is not None:
            return cached
        hashes = sorted({f["sha256"] for r in latest for f in json.loads(r.files_json)})
        sources = [SourceFile(r.filename, r.content.encode("utf-8")) for r in store.source_files(conn, hashes)]
    metrics = metrics_of_sources(sources)
    with _metrics_lock:
        if len(_metrics_cache) > 16:
            _metrics_cache.clear()
        _metrics_cache[key] = metrics
    return metrics
