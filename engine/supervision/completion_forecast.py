"""Predicted completion (预计办结日期) of a running case, and how good such predictions were on
finished cases.

The scenario's own process is read as a graph (its sequence flows without exceptional flows from
boundary events and without the flows back into a loop, as the model's critical path reads it).
Each element weighs the median working days the finished cases of the last HISTORY_DAYS spent there
(an item, i.e. a call activity: from its first step ready to its last step ended), counted only when
at least half of those cases passed it (so a 一次告知 round or a rectification that few cases need
does not lengthen every prediction). With fewer than MIN_HISTORY finished cases the weights are the
promised limits instead: the items' limits, the other steps nothing.

What remains of a running case is the longest path of weights from the elements it waits at now
(an element already waited at counts what is left of its median, at least nothing), parallel
branches counting once (the longest), and the date is that many working days after today on the
working calendar.

Accuracy: for each case finished in a period, what the predictor would have said at its start, with
only the cases finished before that start as history, against the working days it took: the mean
absolute error and the share within ±1 working day."""
from __future__ import annotations

import bisect
import json
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from yijianshi.engine.clock import SHANGHAI
from yijianshi.engine.modeling.definitions import SourceFile
from yijianshi.engine.modeling.namespaces import BPMN
from yijianshi.engine.modeling.scenario_savings import ScenarioMetrics, flow_dag, longest_paths
from yijianshi.engine.modeling.xml_loading import kind_of, parse_xml
from yijianshi.engine.supervision import outcomes
from yijianshi.storage import outcome_store
from yijianshi.storage import supervision_store

HISTORY_DAYS = 180
MIN_HISTORY = 5
HISTORY = "history"
LIMITS = "limits"


@dataclass(frozen=True)
class Graph:
    key: str
    starts: tuple[str, ...]
    dag: dict[str, list[str]]
    order: list[str]


@dataclass(frozen=True)
class Forecast:
    case_id: int
    remaining_days: int
    due: date
    basis: str  # HISTORY or LIMITS
    history_cases: int

    @property
    def label(self) -> str:
        return f"{self.due.month} 月 {self.due.day} 日"


_graphs: dict[tuple[str, tuple[str, ...]], Graph | None] = {}
_graphs_lock = threading.Lock()


def scenario_graph(engine, key: str) -> Graph | None:
    """The flow graph of the newest deployed version of a scenario's own process."""
    with engine.db.reader.connect() as conn:
        row = next((r for r in supervision_store.latest_definitions(conn) if r.key == key), None)
        if row is None:
            return None
        hashes = sorted({f["sha256"] for f in json.loads(row.files_json)})
        cache_key = (key, tuple(hashes))
        if cache_key in _graphs:
            return _graphs[cache_key]
        sources = [SourceFile(r.filename, r.content.encode("utf-8"))
                   for r in supervision_store.source_files(conn, hashes)]
    graph = None
    for src in sources:
        tree = parse_xml(src.data, src.filename)
        if kind_of(tree) != "bpmn":
            continue
        for process in tree.getroot().iter(f"{BPMN}process"):
            if process.get("id") == key:
                starts, dag, order = flow_dag(process)
                graph = Graph(key, tuple(starts), dag, order)
    with _graphs_lock:
        if len(_graphs) > 64:
            _graphs.clear()
        _graphs[cache_key] = graph
    return graph


def limit_weights(model: ScenarioMetrics | None) -> dict[str, int]:
    return {i.element_id: i.limit_days or 0 for i in model.items} if model else {}


class History:
    """Per element of the scenario's process: the sorted working days the finished cases waited
    there, and how many cases there are; added to case by case."""

    def __init__(self, key: str):
        self.key = key
        self.cases = 0
        self.waits: dict[str, list[int]] = {}

    def add(self, case: outcomes.CaseOutcome) -> None:
        self.cases += 1
        for (process_id, element), (_, _, waited) in case.elements.items():
            if process_id == self.key:
                bisect.insort(self.waits.setdefault(element, []), waited)

    def weights(self, model: ScenarioMetrics | None) -> tuple[dict[str, int], str]:
        if self.cases < MIN_HISTORY:
            return limit_weights(model), LIMITS
        out = {}
        for element, days in self.waits.items():
            if 2 * len(days) >= self.cases:
                out[element] = days[(len(days) - 1) // 2]  # the lower median: a whole number of days
        return out, HISTORY


def history(engine, key: str, now: datetime, model: ScenarioMetrics | None) -> History:
    past = History(key)
    for c in outcomes.case_outcomes(engine, key, now - timedelta(days=HISTORY_DAYS), now, model):
        past.add(c)
    return past


def _waiting_at(engine, case_id: int, key: str, call_of: dict[str, str]) -> dict[str, datetime]:
    """The elements of the scenario's process a running case waits at, with when it began there."""
    opened: dict[str, tuple[str, datetime]] = {}
    with engine.db.reader.connect() as conn:
        for r in outcome_store.measured_events(conn, [case_id]):
            if r.type == "work_item_ready":
                process_id = r.process_id or key
                element = r.task_spec if process_id == key else call_of.get(process_id)
                if element is not None:
                    opened[r.work_item_id] = (element, r.at)
            elif r.type in ("work_item_completed", "work_item_cancelled"):
                opened.pop(r.work_item_id, None)
    out: dict[str, datetime] = {}
    for element, at in opened.values():
        out[element] = min(at, out.get(element, at))
    return out


def remaining(graph: Graph, weights: dict[str, int], waiting: dict[str, int]) -> int:
    """Working days left along the longest remaining path: `waiting` maps each element the case waits
    at to the working days it has waited there already."""
    best = longest_paths(graph.dag, graph.order, weights)
    if not waiting:
        return int(max((best.get(s, 0) for s in graph.starts), default=0))
    left = 0
    for element, waited in waiting.items():
        after = max((best.get(m, 0) for m in graph.dag.get(element, ())), default=0)
        left = max(left, max(0, weights.get(element, 0) - waited) + after)
    return int(left)


def forecast(engine, case_id: int) -> Forecast | None:
    """The predicted completion of a running case; None when it is not running or its scenario has
    no readable model."""
    with engine.db.reader.connect() as conn:
        case = outcome_store.case_row(conn, case_id)
    if case is None or case.status != "running":
        return None
    graph = scenario_graph(engine, case.definition_key)
    if graph is None:
        return None
    model = outcomes.scenario_model(engine, case.definition_key)
    call_of = {i.process_id: i.element_id for i in model.items} if model else {}
    now = engine.clock.now().astimezone(SHANGHAI)
    past = history(engine, case.definition_key, now, model)
    weights, basis = past.weights(model)
    calendar = engine.calendar.calendar
    waiting = {e: calendar.working_days_between(at, now)
               for e, at in _waiting_at(engine, case_id, case.definition_key, call_of).items()}
    days = remaining(graph, weights, waiting)
    due = calendar.add_working_days(now, days).date() if days > 0 else now.date()
    return Forecast(case_id, days, due, basis, past.cases)


@dataclass(frozen=True)
class Accuracy:
    """Predictions at the start of finished cases against what they took, in working days."""

    cases: int
    mean_absolute_error: float | None
    within_one: int

    @property
    def within_one_share(self) -> float | None:
        return None if self.cases == 0 else round(100.0 * self.within_one / self.cases, 1)

    def to_dict(self) -> dict:
        return {"cases": self.cases, "mean_absolute_error": self.mean_absolute_error,
                "within_one": self.within_one, "within_one_share": self.within_one_share}


def accuracy(engine, key: str, start: datetime, end: datetime) -> Accuracy:
    """How the predictor did on the cases of a scenario finished in [start, end)."""
    graph = scenario_graph(engine, key)
    model = outcomes.scenario_model(engine, key)
    if graph is None:
        return Accuracy(0, None, 0)
    measured = outcomes.case_outcomes(engine, key, start, end, model)
    if not measured:
        return Accuracy(0, None, 0)
    first_start = min(c.started_at for c in measured)
    earlier = outcomes.case_outcomes(engine, key, first_start - timedelta(days=HISTORY_DAYS), start, model)
    by_end = sorted({c.case_id: c for c in [*earlier, *measured]}.values(), key=lambda c: (c.ended_at, c.case_id))
    past, i, errors = History(key), 0, []
    for case in sorted(measured, key=lambda c: (c.started_at, c.case_id)):
        while i < len(by_end) and by_end[i].ended_at < case.started_at:
            past.add(by_end[i])  # (the window of HISTORY_DAYS is not slid here: all earlier cases count)
            i += 1
        weights, _ = past.weights(model)
        errors.append(abs(remaining(graph, weights, {}) - case.elapsed))
    return Accuracy(len(errors), round(sum(errors) / len(errors), 2), sum(1 for e in errors if e <= 1))
