"""The step graph of a process (环节顺序): from a BPMN file's flows, for every step (user task or
call activity) the steps that may come directly before it (through gateways, events and other
elements that leave no work item), and the mandatory steps (every path from a start event to an
end event passes them). Conformance checking replays a case's event log over this graph.

Embedded subprocesses are entered at their start events and left from their end events; a boundary
event leaves the task it is attached to; steps of event subprocesses may occur at any time (free)."""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from lxml import etree

from yijianshi.engine.modeling.namespaces import BPMN_NS

B = f"{{{BPMN_NS}}}"
STEP_TAGS = frozenset({"userTask", "callActivity"})
START = "__start__"  # the process's start, a predecessor of the steps that may come first
_NODE_TAGS = frozenset({"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent",
                        "boundaryEvent", "exclusiveGateway", "parallelGateway", "inclusiveGateway",
                        "eventBasedGateway", "complexGateway", "task", "userTask", "manualTask",
                        "serviceTask", "scriptTask", "sendTask", "receiveTask", "businessRuleTask",
                        "callActivity", "subProcess", "transaction"})


@dataclass
class StepGraph:
    process_id: str
    names: dict[str, str] = field(default_factory=dict)  # step id → name
    called: dict[str, str] = field(default_factory=dict)  # call activity id → called process id
    before: dict[str, frozenset[str]] = field(default_factory=dict)  # step → steps (or START) directly before
    mandatory: frozenset[str] = frozenset()
    free: frozenset[str] = frozenset()  # steps of event subprocesses

    def name(self, step: str) -> str:
        return self.names.get(step) or step


def _local(el) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def step_graph(process: etree._Element) -> StepGraph:
    """The step graph of a bpmn:process element."""
    graph = StepGraph(process.get("id", ""))
    kind: dict[str, str] = {}
    edges: dict[str, set[str]] = {}
    starts: set[str] = set()
    ends: set[str] = set()
    free: set[str] = set()

    def edge(a: str, b: str) -> None:
        edges.setdefault(a, set()).add(b)

    def walk(container, level: int, in_event_sub: bool) -> tuple[set[str], set[str]]:
        """The container's nodes and flows; returns its start and end events."""
        inner_starts: set[str] = set()
        inner_ends: set[str] = set()
        for el in container:
            tag = _local(el)
            if tag not in _NODE_TAGS:
                continue
            node = el.get("id")
            kind[node] = tag
            if tag in STEP_TAGS:
                graph.names[node] = el.get("name") or node
                if in_event_sub:
                    free.add(node)
                if tag == "callActivity" and el.get("calledElement"):
                    graph.called[node] = el.get("calledElement")
            if tag == "startEvent":
                inner_starts.add(node)
            elif tag == "endEvent":
                inner_ends.add(node)
            elif tag == "boundaryEvent" and el.get("attachedToRef"):
                edge(el.get("attachedToRef"), node)
            elif tag in ("subProcess", "transaction"):
                event_sub = el.get("triggeredByEvent") == "true"
                sub_starts, sub_ends = walk(el, level + 1, in_event_sub or event_sub)
                if not event_sub:
                    for s in sub_starts:
                        edge(node, s)
                    for e in sub_ends:
                        edge(e, node + "#exit")
        for flow in container.iterchildren(f"{B}sequenceFlow"):
            source, target = flow.get("sourceRef"), flow.get("targetRef")
            if _local(container.find(f"*[@id='{source}']")) in ("subProcess", "transaction"):
                source = source + "#exit"
            edge(source, target)
        return inner_starts, inner_ends

    starts, ends = walk(process, 0, False)
    # a subprocess's outgoing flows leave from its exit; a subprocess without inner ends exits at once
    for node, tag in kind.items():
        if tag in ("subProcess", "transaction") and not any(node + "#exit" in v for v in edges.values()):
            edge(node, node + "#exit")
    backward: dict[str, set[str]] = {}
    for a, targets in edges.items():
        for b in targets:
            backward.setdefault(b, set()).add(a)
    for step in graph.names:
        found: set[str] = set()
        seen = {step}
        queue = deque(backward.get(step, ()))
        while queue:
            node = queue.popleft()
            if node in seen:
                continue
            seen.add(node)
            if kind.get(node) in STEP_TAGS:
                found.add(node)
                continue
            if node in starts:
                found.add(START)
            queue.extend(backward.get(node, ()))
        graph.before[step] = frozenset(found)
    graph.free = frozenset(free)
    joins = {n for n, tag in kind.items() if tag == "parallelGateway" and len(backward.get(n, ())) > 1}
    graph.mandatory = frozenset(s for s in graph.names
                                if s not in free and not _reachable(edges, backward, joins, starts, ends, s))
    return graph


def _reachable(edges: dict[str, set[str]], backward: dict[str, set[str]], joins: set[str], starts: set[str],
               ends: set[str], without: str) -> bool:
    """Whether an end event is reachable from a start event avoiding `without`; a parallel join is
    reached only when every flow into it is."""
    seen = set(starts)
    queue = deque(starts)
    while queue:
        node = queue.popleft()
        if node in ends:
            return True
        for nxt in edges.get(node, ()):
            if nxt == without or nxt in seen:
                continue
            if nxt in joins and not backward.get(nxt, set()) <= seen:
                continue
            seen.add(nxt)
            queue.append(nxt)
    return False


def step_graphs(trees: list[etree._ElementTree]) -> dict[str, StepGraph]:
    """Every process of these parsed BPMN files by process id."""
    return {str(p.get("id")): step_graph(p) for tree in trees for p in tree.getroot().iter(f"{B}process")}
