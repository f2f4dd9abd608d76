"""Lint of references between files: every call activity calls a process among the files, every
business rule task a decision among the DMN files."""
from __future__ import annotations

from yijianshi.engine.errors import Problem
from yijianshi.engine.modeling.lint.model_index import LintFile, ModelIndex
from yijianshi.engine.modeling.namespaces import BPMN, CAMUNDA


def check_call_targets(f: LintFile, model: ModelIndex) -> list[Problem]:
    problems = []
    root = f.tree.getroot()
    for ca in root.iter(f"{BPMN}callActivity"):
        target = (ca.get("calledElement") or "").strip()
        if not target:
            problems.append(Problem(f.path, ca.sourceline, "调用活动没有设置被调用的流程（calledElement）。", ca.get("id")))
        elif target not in model.processes:
            problems.append(Problem(f.path, ca.sourceline, f"调用活动引用的流程“{target}”不在这些文件中。"
                                    "请检查流程 ID，或把被调用流程的文件一起校验、部署。", ca.get("id")))
    for brt in root.iter(f"{BPMN}businessRuleTask"):
        ref = brt.get(f"{CAMUNDA}decisionRef")
        if ref and ref not in model.decisions:
            problems.append(Problem(f.path, brt.sourceline, f"业务规则任务引用的决策“{ref}”不在这些 DMN 文件中。",
                                    brt.get("id")))
    return problems
