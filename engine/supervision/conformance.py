"""Conformance (合规性检查): the finished cases of a scenario whose path deviates from the model or
from the promised order, each with its deviations, read from the event log.

Each case is replayed over the step graph (engine/modeling/step_graph.py) of the version it ran on:
- a step the model does not have (模型外环节);
- a step that became ready although none of the steps the model puts directly before it had been
  completed since it was last ready (e.g. 退回 to an earlier step: a path the model does not draw);
  for a call activity this is a dependent item started before the item it depends on finished;
- a mandatory step (every path from start to end passes it) never completed (缺少必经环节);
- an item that took longer than its promised limit (超出承诺时限, working days as measured).

pm4py was weighed and not used: it would pull in pandas, numpy, scipy and graphviz for a check that
needs only the predecessor sets of each step, it cannot read call activities or our event rows
without a conversion layer, and its alignments explain deviations as Petri-net moves, not as the
steps and items a supervisor knows. Replaying the log over the flow graph is a few dozen lines and
gives the deviation in the words of the model."""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import datetime

from yijianshi.engine.clock import to_utc
from yijianshi.engine.modeling.step_graph import START, StepGraph, step_graphs
from yijianshi.engine.modeling.xml_loading import parse_xml
from yijianshi.engine.supervision import outcomes
from yijianshi.storage import definition_store
from yijianshi.storage import outcome_store as store

# kinds of deviation
UNKNOWN_STEP = "unknown_step"
OUT_OF_ORDER = "out_of_order"
MISSING_STEP = "missing_step"
OVER_LIMIT = "over_limit"


@dataclass(frozen=True)
class Deviation:
    kind: str
    process_id: str
    element_id: str
    text: str  # in the words of the model (Chinese)
    at: datetime | None = None


@dataclass(frozen=True)
class CaseConformance:
    case_id: int
    ended_at: datetime
    deviations: tuple[Deviation, ...] = field(default_factory=tuple)


_graphs: dict[int, dict[str, StepGraph]] = {}
_graphs_lock = threading.Lock()


def graphs_of(conn, definition_id: int) -> dict[str, StepGraph]:
    """The step graphs of every process of a deployed version (deployed files never change)."""
    found = _graphs.get(definition_id)
    if found is not None:
        return found
    row = definition_store.by_id(conn, definition_id)
    files = [f for f in json.loads(row.files_json) if f["filename"].lower().endswith((".bpmn", ".xml"))] if row else []
    contents = definition_store.file_contents(conn, [f["sha256"] for f in files])
    trees = [parse_xml(c.content.encode("utf-8"), c.filename) for c in contents.values()]
    built = step_graphs([t for t in trees if str(t.getroot().tag).endswith("definitions")])
    with _graphs_lock:
        if len(_graphs) > 256:
            _graphs.clear()
        return _graphs.setdefault(definition_id, built)


@dataclass
class _Step:
    process_id: str
    element_id: str
    ready_at: datetime
    completed_at: datetime | None = None


def check_case(case_id: int, ended_at: datetime, key: str, graphs: dict[str, StepGraph], rows: list,
               outcome: outcomes.CaseOutcome | None = None,
               limits: dict[str, tuple[str, int | None]] | None = None) -> CaseConformance:
    """The deviations of one finished case from its history rows (outcome_store.path_events)."""
    scenario = graphs.get(key)
    calls = {p: ca for ca, p in scenario.called.items()} if scenario else {}
    steps: list[_Step] = []
    by_item: dict[str, _Step] = {}
    returns: dict[str, str] = {}  # step returned to → reason
    for r in rows:
        if r.type == "work_item_ready":
            process_id = r.process_id or next((p for p in (key, *graphs) if r.task_spec in graphs[p].names), key)
            step = by_item[r.work_item_id] = _Step(process_id, r.task_spec, r.at)
            steps.append(step)
        elif r.type == "work_item_completed" and r.work_item_id in by_item:
            by_item[r.work_item_id].completed_at = r.at
        elif r.type == "work_item_returned":
            data = json.loads(r.data or "{}")
            returns[data.get("to_task_spec", "")] = data.get("reason", "")
    # a call activity of the scenario: from the first step of its called process to the last
    spans: dict[str, _Step] = {}
    for s in steps:
        ca = calls.get(s.process_id)
        if ca is None:
            continue
        span = spans.get(ca)
        if span is None:
            spans[ca] = _Step(key, ca, s.ready_at, s.completed_at)
        else:
            span.ready_at = min(span.ready_at, s.ready_at)
            if s.completed_at is not None:
                span.completed_at = max(span.completed_at or s.completed_at, s.completed_at)
    occurrences = sorted([s for s in steps if s.process_id not in calls] + list(spans.values())
                         + [s for s in steps if s.process_id in calls], key=lambda s: s.ready_at)
    completions: dict[tuple[str, str], list[datetime]] = {}
    for s in occurrences:
        if s.completed_at is not None:
            completions.setdefault((s.process_id, s.element_id), []).append(s.completed_at)
    out: list[Deviation] = []
    last_ready: dict[tuple[str, str], datetime] = {}
    for s in occurrences:
        graph = graphs.get(s.process_id)
        name = graph.name(s.element_id) if graph else s.element_id
        if graph is None or s.element_id not in graph.names:
            out.append(Deviation(UNKNOWN_STEP, s.process_id, s.element_id,
                                 f"环节“{name}”不在模型中", s.ready_at))
            continue
        k = (s.process_id, s.element_id)
        previous = last_ready.get(k)
        last_ready[k] = s.ready_at
        if s.element_id in graph.free:
            continue
        before = graph.before.get(s.element_id, frozenset())
        ok = (START in before and (previous is None or s.process_id in calls)) or any(
            (previous is None or c > previous) and c <= s.ready_at
            for b in before if b != START for c in completions.get((s.process_id, b), ()))
        if ok:
            continue
        expected = "、".join(f"“{graph.name(b)}”" for b in sorted(before) if b != START) or "开始"
        if s.element_id in graph.called:
            text = f"事项“{name}”在{expected}办结前开始"
        elif previous is not None:
            text = f"环节“{name}”再次办理，但模型中它之前的环节{expected}未再办理"
        else:
            text = f"环节“{name}”开始时，模型中它之前的环节{expected}尚未办结"
        if s.element_id in returns:
            text += f"（退回：{returns[s.element_id]}）"
        out.append(Deviation(OUT_OF_ORDER, s.process_id, s.element_id, text, s.ready_at))
    done = {k for k, v in completions.items() if v}
    for process_id, graph in graphs.items():
        if process_id != key and not (process_id in calls and calls[process_id] in spans):
            continue  # only the scenario and the items the case went into
        for m in sorted(graph.mandatory):
            if (process_id, m) not in done:
                out.append(Deviation(MISSING_STEP, process_id, m, f"缺少必经环节“{graph.name(m)}”"))
    if outcome is not None and limits:
        for ca, (name, limit) in limits.items():
            found = outcome.elements.get((key, ca))
            if found is not None and limit is not None and found[2] > limit:
                out.append(Deviation(OVER_LIMIT, key, ca, f"事项“{name}”用时 {found[2]} 个工作日，"
                                                          f"超过承诺时限 {limit} 个工作日", found[1]))
    return CaseConformance(case_id, ended_at, tuple(out))


def deviating_cases(engine, key: str, start: datetime, end: datetime) -> list[CaseConformance]:
    """The cases of the scenario completed in [start, end) with at least one deviation."""
    model = outcomes.scenario_model(engine, key)
    limits = {i.element_id: (i.name, i.limit_days) for i in model.items} if model else {}
    measured = {c.case_id: c for c in outcomes.case_outcomes(engine, key, start, end, model)}
    out = []
    with engine.db.reader.connect() as conn:
        finished = store.finished_cases(conn, key, to_utc(start), to_utc(end))
        ids = [c.id for c in finished]
        versions = store.case_definitions(conn, ids)
        rows_of: dict[int, list] = {}
        for r in store.path_events(conn, ids):
            rows_of.setdefault(r.case_id, []).append(r)
        for c in finished:
            checked = check_case(c.id, c.ended_at, key, graphs_of(conn, versions[c.id]), rows_of.get(c.id, []),
                                 measured.get(c.id), limits)
            if checked.deviations:
                out.append(checked)
    return out
