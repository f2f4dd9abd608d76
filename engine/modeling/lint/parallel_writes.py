"""Lint warning: two activities on parallel branches (after a parallel or inclusive split, neither
reachable from the other) that write the same case variable: when the branches join, the one that
finished last silently overwrites the other's value. A write is a form field of a user task, a name a
script task assigns, a business rule task's result variable, an output parameter, and whatever the
activities inside an embedded subprocess or a called process write; an input parameter of the same
name (camunda:inputOutput) makes the variable local, so it is no write. A warning, not an error:
sometimes the last value is the one wanted."""
from __future__ import annotations

import ast
import textwrap
from itertools import combinations

from lxml import etree

from yijianshi.engine.errors import Problem
from yijianshi.engine.modeling.input_output import mapping_element
from yijianshi.engine.modeling.lint.model_index import LintFile, ModelIndex
from yijianshi.engine.modeling.namespaces import BPMN, CAMUNDA

_SPLITS = (f"{BPMN}parallelGateway", f"{BPMN}inclusiveGateway")
_FLOW_NODE_SKIP = {f"{BPMN}sequenceFlow", f"{BPMN}laneSet", f"{BPMN}textAnnotation", f"{BPMN}association",
                   f"{BPMN}extensionElements", f"{BPMN}documentation", f"{BPMN}dataObject",
                   f"{BPMN}dataObjectReference", f"{BPMN}dataStoreReference", f"{BPMN}ioSpecification"}


def check_parallel_writes(f: LintFile, model: ModelIndex) -> list[Problem]:
    """One warning per pair of activities on parallel branches writing a variable in common."""
    found: list[Problem] = []
    containers = [*f.tree.getroot().iter(f"{BPMN}process"),
                  *f.tree.getroot().iter(f"{BPMN}subProcess", f"{BPMN}transaction")]
    for container in containers:
        found.extend(_check_container(f, model, container))
    return found


def _check_container(f: LintFile, model: ModelIndex, container: etree._Element) -> list[Problem]:
    nodes: dict[str, etree._Element] = {
        el.get("id") or "": el for el in container
        if isinstance(el.tag, str) and el.tag not in _FLOW_NODE_SKIP and el.get("id")}
    successors: dict[str, set[str]] = {node_id: set() for node_id in nodes}
    for flow in container.iterfind(f"{BPMN}sequenceFlow"):
        source, target = flow.get("sourceRef") or "", flow.get("targetRef") or ""
        if source in successors and target in nodes:
            successors[source].add(target)
    for node_id, el in nodes.items():  # a boundary event continues from its activity
        host = el.get("attachedToRef") or ""
        if el.tag == f"{BPMN}boundaryEvent" and host in successors:
            successors[host].add(node_id)
    reach = {node_id: _reachable(node_id, successors) for node_id in nodes}
    writes = {node_id: _writes(el, model, set()) for node_id, el in nodes.items()}
    problems = []
    seen: set[tuple[str, str]] = set()
    for split_id, split in nodes.items():
        if split.tag not in _SPLITS or len(successors[split_id]) < 2:
            continue
        branches = [{first} | reach[first] for first in sorted(successors[split_id])]
        for left, right in combinations(branches, 2):
            for a in sorted(left - right):
                for b in sorted(right - left):
                    pair = (min(a, b), max(a, b))
                    if pair in seen or a in reach[b] or b in reach[a]:
                        continue
                    common = sorted(writes[a] & writes[b])
                    if common:
                        seen.add(pair)
                        problems.append(_warning(f, nodes[pair[0]], nodes[pair[1]], common))
    return problems


def _warning(f: LintFile, first: etree._Element, second: etree._Element, names: list[str]) -> Problem:
    variables = "、".join(f"“{n}”" for n in names)
    example = names[0]
    return Problem(f.path, first.sourceline,
                   f"并行分支上的“{_label(first)}”与“{_label(second)}”都写入案件变量 {variables}：分支汇合时，"
                   "后办完的会覆盖先办完的。请在这两个环节上用 camunda:inputOutput 把该变量设为输入参数（局部变量，"
                   f"如 <camunda:inputParameter name=\"{example}\" />），再用输出参数写到各自的变量"
                   f"（如 {example}_{first.get('id')}）；若确实只需要最后的值，可忽略此提示。",
                   first.get("id"))


def _label(el: etree._Element) -> str:
    name = (el.get("name") or "").strip()
    return f"{name}（{el.get('id')}）" if name else str(el.get("id"))


def _reachable(start: str, successors: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    todo = list(successors.get(start, ()))
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(successors.get(node, ()))
    return seen


def _writes(el: etree._Element, model: ModelIndex, calling: set[str]) -> set[str]:
    """The case variables an activity writes (outside its local inputs)."""
    tag = el.tag
    names: set[str] = set()
    if tag == f"{BPMN}userTask":
        names.update(ff.get("id") or "" for ff in el.iterfind(
            f"{BPMN}extensionElements/{CAMUNDA}formData/{CAMUNDA}formField"))
    elif tag == f"{BPMN}scriptTask":
        names.update(_assigned_names(el.findtext(f"{BPMN}script") or ""))
    elif tag == f"{BPMN}businessRuleTask":
        names.add(el.get(f"{CAMUNDA}resultVariable") or "")
    elif tag in (f"{BPMN}subProcess", f"{BPMN}transaction"):
        for inner in el:
            if isinstance(inner.tag, str) and inner.tag not in _FLOW_NODE_SKIP:
                names.update(_writes(inner, model, calling))
    elif tag == f"{BPMN}callActivity":
        called = (el.get("calledElement") or "").strip()
        target = model.processes.get(called)
        if target is not None and called not in calling:
            for inner in target[1]:
                if isinstance(inner.tag, str) and inner.tag not in _FLOW_NODE_SKIP:
                    names.update(_writes(inner, model, calling | {called}))
    io = mapping_element(el)
    if io is not None:
        names -= {p.get("name") for p in io.iterfind(f"{CAMUNDA}inputParameter")}
        names.update(p.get("name") or "" for p in io.iterfind(f"{CAMUNDA}outputParameter"))
    names.discard("")
    return names


def _assigned_names(script: str) -> set[str]:
    """Names a script assigns at its own level (`x = ...`, `x += ...`, `for x in ...`), not the
    variables of comprehensions, lambdas or functions it defines."""
    try:
        tree = ast.parse(textwrap.dedent(script).strip())
    except SyntaxError:
        return set()
    names: set[str] = set()
    todo: list[ast.AST] = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, _OWN_SCOPES):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        todo.extend(ast.iter_child_nodes(node))
    return names


_OWN_SCOPES = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.Lambda, ast.FunctionDef,
               ast.AsyncFunctionDef, ast.ClassDef)
