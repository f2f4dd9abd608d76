"""Lint of diagram interchange: in a file with a diagram, every flow node, lane and pool has a shape
and every sequence flow an edge with at least two waypoints."""
from __future__ import annotations

from yijianshi.engine.errors import Problem
from yijianshi.engine.modeling.lint.model_index import LintFile
from yijianshi.engine.modeling.namespaces import BPMN, BPMNDI, DC, DI

_DRAWN = ("task", "userTask", "scriptTask", "serviceTask", "businessRuleTask", "callActivity", "subProcess",
          "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
          "exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway", "sequenceFlow",
          "lane", "participant", "receiveTask", "sendTask", "manualTask")


def check_diagram(f: LintFile) -> list[Problem]:
    """Elements without diagram interchange in a file that has a diagram."""
    root = f.tree.getroot()
    if root.find(f"{BPMNDI}BPMNDiagram") is None:
        return []
    shapes = {el.get("bpmnElement"): el for el in root.iter(f"{BPMNDI}BPMNShape")}
    edges = {el.get("bpmnElement"): el for el in root.iter(f"{BPMNDI}BPMNEdge")}
    problems = []
    for el in root.iter(*(f"{BPMN}{t}" for t in _DRAWN)):
        eid = el.get("id")
        if el.tag == f"{BPMN}sequenceFlow":
            edge = edges.get(eid)
            if edge is None or len(edge.findall(f"{DI}waypoint")) < 2:
                problems.append(Problem(f.path, el.sourceline, "顺序流在图中没有连线（BPMNEdge 及至少两个拐点），"
                                        "建模工具无法显示。请在建模工具中重新连线后保存。", eid))
        elif eid not in shapes or shapes[eid].find(f"{DC}Bounds") is None:
            problems.append(Problem(f.path, el.sourceline, "元素在图中没有位置（BPMNShape），建模工具会把它画在左上角。"
                                    "请在建模工具中摆放后保存。", eid))
    return problems
