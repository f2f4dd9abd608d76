"""Lint of gateways: a diverging exclusive or inclusive gateway has a default flow and a condition on
each other outgoing flow."""
from __future__ import annotations

from yijianshi.engine.errors import Problem
from yijianshi.engine.modeling.lint.model_index import LintFile
from yijianshi.engine.modeling.namespaces import BPMN


def check_gateways(f: LintFile) -> list[Problem]:
    problems = []
    root = f.tree.getroot()
    for process in root.iter(f"{BPMN}process"):
        flows = {fl.get("id"): fl for fl in process.iter(f"{BPMN}sequenceFlow")}
        outgoing: dict[str | None, list] = {}
        for fl in flows.values():
            outgoing.setdefault(fl.get("sourceRef"), []).append(fl)
        for gw in process.iter(f"{BPMN}exclusiveGateway", f"{BPMN}inclusiveGateway"):
            outs = outgoing.get(gw.get("id"), [])
            if len(outs) < 2:
                continue
            default = gw.get("default")
            kind = "排他网关" if gw.tag == f"{BPMN}exclusiveGateway" else "包容网关"
            if not default:
                problems.append(Problem(f.path, gw.sourceline, f"{kind}有 {len(outs)} 条出口但没有默认流向：所有条件都不成立时"
                                        "案件会出错停住。请把其中一条设为默认流（default）。", gw.get("id")))
            for fl in outs:
                if fl.get("id") != default and fl.find(f"{BPMN}conditionExpression") is None:
                    problems.append(Problem(f.path, fl.sourceline, f"{kind}“{gw.get('name') or gw.get('id')}”的出口"
                                            f"“{fl.get('name') or fl.get('id')}”既不是默认流，也没有条件。", fl.get("id")))
    return problems
