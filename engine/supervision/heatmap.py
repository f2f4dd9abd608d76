"""Heatmaps of a scenario's diagrams (实测热力图): for the cases of a scenario completed in a period,
per BPMN element how many cases passed it and how long they waited there (working days, median
and P90 by nearest rank), from outcomes.element_figures; and the cases behind any such figure, so
every number on the supervisor's pages can be opened as the list of its cases.

A scenario's call activity is an element of the scenario's own process (the item's span, from its
first step to its last); the steps of the called processes are elements of those processes."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from yijianshi.engine.supervision import outcomes

MEASURES = ("count", "wait")  # colour by cases passed, or by the median working days waited
# Which cases of a scenario a figure on the scenarios page stands for (the drill-down's `figure`).
CASE_SETS = ("all", "on_time", "late", "corrected", "visited", "rated")


def heatmap(engine, key: str, start: datetime, end: datetime) -> dict:
    """The figures a heatmap draws: per process id, per element id, cases / p50 / p90 / total days."""
    processes: dict[str, dict[str, dict]] = {}
    most_cases = most_wait = 0
    for (process_id, element_id), f in sorted(outcomes.element_figures(engine, key, start, end).items()):
        processes.setdefault(process_id, {})[element_id] = {
            "cases": f.cases, "p50": f.p50, "p90": f.p90, "total_days": f.total_days}
        most_cases, most_wait = max(most_cases, f.cases), max(most_wait, f.p50 or 0)
    return {"key": key, "start": start.isoformat(), "end": end.isoformat(), "processes": processes,
            "max": {"count": most_cases, "wait": most_wait}}


@dataclass(frozen=True)
class CaseLine:
    """One case behind a figure: its measured elapsed working days, and the days it waited at the
    element when the figure is an element's."""

    case_id: int
    started_at: datetime
    ended_at: datetime
    elapsed: int
    waited: int | None


def cases_behind(engine, key: str, start: datetime, end: datetime, *, process_id: str | None = None,
                 element_id: str | None = None, figure: str = "all", rating: str | None = None,
                 item: str | None = None) -> list[CaseLine]:
    """The cases of the scenario completed in [start, end) behind a figure: those that passed an
    element (process_id, element_id), or a case set of the scenarios page (CASE_SETS); `rated`:
    the cases rated `rating` (outcomes.RATING_LEVELS) for the service, or for `item`."""
    model = outcomes.scenario_model(engine, key)
    limit = model.critical_path if model else None
    out = []
    for c in outcomes.case_outcomes(engine, key, start, end, model):
        waited = None
        if element_id is not None:
            found = c.elements.get((process_id or key, element_id))
            if found is None:
                continue
            waited = found[2]
        elif figure == "on_time" and not (limit is not None and c.elapsed <= limit):
            continue
        elif figure == "late" and not (limit is not None and c.elapsed > limit):
            continue
        elif figure == "corrected" and not c.corrections:
            continue
        elif figure == "visited" and not c.visits:
            continue
        elif figure == "rated" and c.rating_of(item) != rating:
            continue
        out.append(CaseLine(c.case_id, c.started_at, c.ended_at, c.elapsed, waited))
    return out
