"""Model metrics of each 一件事 scenario, computed from its BPMN files alone: what integration saves
the applicant compared with applying for each item (事项) separately.

What the models carry (camunda:properties):
- on each item process (the process a scenario's call activity calls):
  `materials` — the materials that item needs when applied for separately, separated by "；";
  `form_fields` — the ids of the merged-form fields that item's own application form asks, by ",";
  `visits_before` — window visits that item takes when applied for separately;
  the item's promised limit is read from its first user task with an interrupting boundary timer
  `add_working_days(<start>, N)` (else its `camunda:dueDate` of that shape): N working days.
- on each data-sharing service task (camunda:type="external", a registry topic such as
  `registry.household`, served by engine/connectors/): `shares_materials` — the materials the
  register's answer replaces, by "；"; `shares_fields` — the ids of the fields it provides, which
  the merged form therefore does not ask (an item's form_fields may name them);
- on the scenario process: `materials` — the one set of materials the integrated service asks for,
  by "；", where the models do not yet check them by a service task (default: the union of the items'
  materials); `visits` — window visits of the integrated service (default 1).

Measures:
- form fields: the sum of the items' form_fields vs the merged form's fields (the applicant's first
  form without the item selection fields item_choice / want_*);
- materials: the sum over items vs the scenario's one set less every material a data-sharing service
  task of the scenario or its items replaces (counted from the tasks in the models, so a check that
  is modelled as a person's task saves nothing);
- visits: the sum of visits_before vs visits;
- limits: the sum of the item limits (one after another) vs the critical path: the longest path of
  limits from the scenario's start to its end through the sequence flows (exceptional paths from
  boundary events and loops back are ignored), so parallel items count once and staged items add up."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from yijianshi.engine.modeling.camunda_dialect import extension_properties, read_user_tasks, split_list
from yijianshi.engine.modeling.definitions import SourceFile, read_sources
from yijianshi.engine.modeling.limit_sources import LimitEntry, item_limit_source, limits_in
from yijianshi.engine.modeling.namespaces import BPMN, CAMUNDA
from yijianshi.engine.modeling.scenario_items import SELECTION_FIELDS, ScenarioItem
from yijianshi.engine.modeling.time_limits import Limit, item_limit
from yijianshi.engine.modeling.xml_loading import kind_of, parse_xml



@dataclass(frozen=True)
class ScenarioMetrics:
    key: str
    name: str
    file: str
    items: tuple[ScenarioItem, ...]
    fields_separate: int
    fields_merged: int
    materials_separate: int
    materials_merged: int
    visits_before: int
    visits_after: int
    limits_sum: int
    critical_path: int
    own_limits: tuple[LimitEntry, ...] = ()  # the scenario's own limits (受理, 容缺补齐, 差评整改 …) and sources
    shared_materials: tuple[str, ...] = ()  # replaced by the data-sharing service tasks, not asked for

    @staticmethod
    def _cut(before: int, after: int) -> float | None:
        return None if before == 0 else round(100.0 * (before - after) / before, 1)

    @property
    def fields_cut(self) -> float | None:
        return self._cut(self.fields_separate, self.fields_merged)

    @property
    def materials_cut(self) -> float | None:
        return self._cut(self.materials_separate, self.materials_merged)

    @property
    def visits_cut(self) -> float | None:
        return self._cut(self.visits_before, self.visits_after)

    @property
    def time_cut(self) -> float | None:
        return self._cut(self.limits_sum, self.critical_path)

    def to_dict(self) -> dict:
        """JSON-compatible, for the web dashboard."""
        return {"key": self.key, "name": self.name, "items": len(self.items),
                "fields": [self.fields_separate, self.fields_merged], "materials": [self.materials_separate,
                                                                                    self.materials_merged],
                "visits": [self.visits_before, self.visits_after], "limits": [self.limits_sum, self.critical_path],
                "shared_materials": list(self.shared_materials)}


def scenario_metrics(paths: Iterable[str | Path]) -> list[ScenarioMetrics]:
    """The metrics of every scenario in these BPMN files (folders searched recursively), by name."""
    return metrics_of_sources(read_sources(list(paths)))


def metrics_of_sources(sources: Iterable[SourceFile]) -> list[ScenarioMetrics]:
    """The metrics of every scenario in these files (as read from disk or as stored when deployed)."""
    processes: dict[str | None, tuple[str, etree._Element, dict]] = {}  # by id as written
    for src in sources:
        tree = parse_xml(src.data, src.filename)
        if kind_of(tree) != "bpmn":
            continue
        metas, _ = read_user_tasks(tree, src.filename)
        for process in tree.getroot().iter(f"{BPMN}process"):
            own = {m.task_id: m for m in metas.values() if m.process_id == process.get("id")}
            processes[process.get("id")] = (src.filename, process, own)
    called = {ca.get("calledElement") for _, p, _ in processes.values() for ca in p.iter(f"{BPMN}callActivity")}
    out = []
    for pid, (filename, process, metas) in processes.items():
        entry = _entry_form(process, metas)
        if pid in called or entry is None:
            continue
        out.append(_measure(pid, filename, process, entry, processes))
    return sorted(out, key=lambda m: m.name)


def _measure(pid, filename, process, entry_fields, processes) -> ScenarioMetrics:
    items = []
    for ca in process.iter(f"{BPMN}callActivity"):
        target = processes.get(ca.get("calledElement"))
        if target is None:
            continue
        _, tprocess, tmetas = target
        props = extension_properties(tprocess)
        days = item_limit(tprocess)
        items.append(ScenarioItem(
            element_id=ca.get("id"), name=ca.get("name") or ca.get("id"), process_id=ca.get("calledElement"),
            departments=_handling_groups(tprocess, tmetas),
            limit=Limit(days, "working_days") if days is not None else None,
            materials=split_list(props.get("materials"), "；"), form_fields=split_list(props.get("form_fields")),
            visits_before=_int(props.get("visits_before"), 0), limit_source=item_limit_source(tprocess),
            shared_materials=shared_materials(tprocess)))
    props = extension_properties(process)
    shared = tuple(dict.fromkeys([*shared_materials(process), *(m for i in items for m in i.shared_materials)]))
    asked = split_list(props.get("materials"), "；") or tuple(dict.fromkeys(m for i in items for m in i.materials))
    merged_materials = [m for m in asked if m not in shared]
    limits = {i.element_id: i.limit_days or 0 for i in items}
    return ScenarioMetrics(
        key=pid, name=process.get("name") or pid, file=filename, items=tuple(items),
        fields_separate=sum(len(i.form_fields) for i in items),
        fields_merged=len([f for f in entry_fields if not SELECTION_FIELDS.fullmatch(f)]),
        materials_separate=sum(len(i.materials) for i in items), materials_merged=len(merged_materials),
        visits_before=sum(i.visits_before for i in items), visits_after=_int(props.get("visits"), 1),
        limits_sum=sum(limits.values()), critical_path=critical_path(process, limits),
        own_limits=tuple(e for e in limits_in(process) if not process.xpath(
            "boolean(.//*[@id=$i][@attachedToRef])", i=e.element_id)),
        shared_materials=shared)


def shared_materials(process) -> tuple[str, ...]:
    """The materials the process's data-sharing service tasks (external, with `shares_materials`)
    replace, in document order."""
    out: list[str] = []
    for task in process.iter(f"{BPMN}serviceTask"):
        if task.get(f"{CAMUNDA}type") != "external" or not task.get(f"{CAMUNDA}topic"):
            continue
        out.extend(split_list(extension_properties(task).get("shares_materials"), "；"))
    return tuple(dict.fromkeys(out))


def _handling_groups(process, metas) -> tuple[str, ...]:
    """The departments of an item: the groups of its first user task (督办 and the like come later)."""
    for node in _in_flow_order(process):
        meta = metas.get(node.get("id"))
        if node.tag == f"{BPMN}userTask" and meta is not None:
            return meta.groups
    return ()


def _entry_form(process, metas) -> list[str] | None:
    """The editable fields of the first applicant form reached from the start event."""
    for node in _in_flow_order(process):
        meta = metas.get(node.get("id"))
        if node.tag == f"{BPMN}userTask" and meta is not None:
            if "applicant" in meta.groups and meta.form is not None:
                return [f.id for f in meta.form.fields if not f.readonly]
            return None
    return None


def _in_flow_order(process):
    nodes = {el.get("id"): el for el in process if el.get("id")}
    succ = _successors(process, skip_boundaries=True)
    queue = [el.get("id") for el in process.iter(f"{BPMN}startEvent") if el.getparent() is process]
    seen = set()
    while queue:
        nid = queue.pop(0)
        if nid in seen or nid not in nodes:
            continue
        seen.add(nid)
        yield nodes[nid]
        queue.extend(succ.get(nid, ()))


def _successors(process, skip_boundaries: bool) -> dict[str, list[str]]:
    boundaries = {el.get("id") for el in process.iter(f"{BPMN}boundaryEvent")}
    succ: dict[str, list[str]] = {}
    for fl in process.iter(f"{BPMN}sequenceFlow"):
        if skip_boundaries and fl.get("sourceRef") in boundaries:
            continue
        succ.setdefault(fl.get("sourceRef"), []).append(fl.get("targetRef"))
    return succ


def critical_path(process, weights: dict[str, int]) -> int:
    """The largest sum of node weights along a path from a start event through the sequence flows,
    ignoring flows from boundary events (exceptions) and flows back into a loop."""
    starts, dag, order = flow_dag(process)
    best = longest_paths(dag, order, weights)
    return max((best[s] for s in starts), default=0)


def longest_paths(dag: dict[str, list[str]], order: list[str], weights: Mapping[str, int]) -> dict[str, int]:
    """For each node of the DAG (order: successors first): the largest sum of weights along a path
    from it to an end, itself included."""
    best: dict[str, int] = {}
    for n in order:
        best[n] = weights.get(n, 0) + max((best[m] for m in dag.get(n, ())), default=0)
    return best


def flow_dag(process) -> tuple[list[str], dict[str, list[str]], list[str]]:
    """The process's start events, its sequence flows as a DAG (without flows from boundary events
    and without the flows back into a loop, found by a depth-first walk) and its nodes in reverse
    topological order (successors first)."""
    succ = _successors(process, skip_boundaries=True)
    starts = [el.get("id") for el in process.iter(f"{BPMN}startEvent") if el.getparent() is process]
    # Drop back edges found by a depth-first walk, so what remains is a DAG.
    order: list[str] = []
    state: dict[str, int] = {}
    dag: dict[str, list[str]] = {}

    def visit(n):
        state[n] = 1
        for m in succ.get(n, ()):
            if state.get(m) == 1:
                continue  # back edge: a loop (一次告知补正, 重新整改 …)
            dag.setdefault(n, []).append(m)
            if m not in state:
                visit(m)
        state[n] = 2
        order.append(n)

    for s in starts:
        if s not in state:
            visit(s)
    return starts, dag, order


def _int(text: str | None, default: int) -> int:
    try:
        return int(str(text).strip())
    except (TypeError, ValueError):
        return default
